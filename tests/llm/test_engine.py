"""The batched decoder in-process: prefix reuse and batching must not change what is sampled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from rft_runtime.llm.engine import Completion, Decoder, PrefixCache, PromptJob, Sampling, Ticket
from rft_runtime.llm.model_store import ensure_checkpoint
from rft_runtime.llm.settings import LLMSettings

pytestmark = pytest.mark.slow

SYSTEM = {"role": "system", "content": "You are a drone pilot assistant. Answer briefly."}


@pytest.fixture(scope="module")
def decoder() -> Iterator[Decoder]:
    # One thread: on a shared CPU, two OpenMP threads that spin at barriers decode several
    # times slower (the server process sets OMP_WAIT_POLICY=PASSIVE; this process cannot).
    threads = torch.get_num_threads()
    yield Decoder(ensure_checkpoint(LLMSettings().cache_dir), threads=1)
    torch.set_num_threads(threads)


def prompt(decoder: Decoder, question: str) -> list[int]:
    return decoder.encode_chat([SYSTEM, {"role": "user", "content": question}])


def test_prefix_reuse_gives_the_same_greedy_answer(decoder: Decoder) -> None:
    greedy = Sampling(temperature=0.0, max_tokens=12)
    second = prompt(decoder, "How high can the drone fly?")
    decoder.prefixes = PrefixCache(0)  # nothing kept: the whole prompt is computed
    [[expected]] = decoder.generate([PromptJob(second, 1, greedy)])

    first = prompt(decoder, "Land the drone now.")
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
    assert shared > 10  # the system turn
    decoder.prefixes = PrefixCache(8192)
    decoder.generate([PromptJob(first, 1, greedy)])
    [[reused]] = decoder.generate([PromptJob(second, 1, greedy)])
    assert decoder.prefixes.hits_tokens == shared
    assert reused == expected


def test_seeded_sample_is_the_same_alone_or_in_a_batch(decoder: Decoder) -> None:
    seeded = Sampling(temperature=1.0, max_tokens=10, seed=42)
    job = PromptJob(prompt(decoder, "Name a colour."), 1, seeded)
    [alone] = decoder.generate([job])
    others = [
        PromptJob(prompt(decoder, question), 2, Sampling(temperature=0.9, max_tokens=6))
        for question in ("Fly forward ten metres, then turn left and hover.", "Hi")
    ]
    in_batch = decoder.generate([others[0], job, others[1]])
    assert in_batch[1] == alone
    assert [len(c) for c in in_batch] == [2, 1, 2]


def test_rows_finish_on_their_own_limits(decoder: Decoder) -> None:
    question = prompt(decoder, "Tell me a long story about a drone.")
    short, long = decoder.generate(
        [
            PromptJob(question, 1, Sampling(temperature=0.0, max_tokens=2)),
            PromptJob(question, 1, Sampling(temperature=0.0, max_tokens=12)),
        ]
    )
    assert short[0].completion_tokens == 2 and short[0].finish_reason == "length"
    assert long[0].completion_tokens == 12
    assert long[0].text.startswith(short[0].text)


def test_requests_joining_a_running_batch_sample_as_if_alone(decoder: Decoder) -> None:
    seeded = Sampling(temperature=1.0, max_tokens=8, seed=3)
    first = PromptJob(prompt(decoder, "Hi"), 2, seeded)
    longer = PromptJob(prompt(decoder, "Describe, in detail, every step of a safe landing."), 1,
                       seeded)
    shorter = PromptJob(prompt(decoder, "Up"), 1, seeded)
    alone = [decoder.generate([job])[0] for job in (first, longer, shorter)]

    results: dict[str, list[Completion]] = {}
    arrivals = {0: [("first", first)], 3: [("longer", longer), ("shorter", shorter)]}
    calls = 0

    def pull(free: int) -> list[Ticket]:
        nonlocal calls
        due = arrivals.get(calls, [])
        calls += 1
        return [
            Ticket(job, lambda done, name=name: results.__setitem__(name, done))
            for name, job in due
        ]

    decoder.decode(pull)
    assert calls > 3  # the later two joined while the first was decoding
    assert [results["first"], results["longer"], results["shorter"]] == alone
    assert list(decoder.batch_rows)[-2:] == [2, 4]  # 2 rows, then 2 more joined


def test_requests_arriving_as_the_batch_empties_start_a_fresh_batch(decoder: Decoder) -> None:
    """The make demo dry run: the running rows all finish in one step and the next requests are
    pulled in the same decode call (their rows must not meet the finished rows' logits)."""
    quick = Sampling(temperature=1.0, max_tokens=1, seed=1)
    first = PromptJob(prompt(decoder, "Hi"), 3, quick)
    later = PromptJob(prompt(decoder, "Up"), 2, Sampling(temperature=1.0, max_tokens=3, seed=2))
    alone = decoder.generate([later])[0]
    results: dict[str, list[Completion]] = {}
    pulls = [[("first", first)], [("later", later)]]

    def pull(free: int) -> list[Ticket]:
        due = pulls.pop(0) if pulls else []
        return [Ticket(job, lambda done, name=name: results.__setitem__(name, done))
                for name, job in due]

    decoder.decode(pull)
    assert len(results["first"]) == 3 and results["later"] == alone
