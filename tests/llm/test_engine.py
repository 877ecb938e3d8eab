"""The batched decoder in-process: prefix reuse and batching must not change what is sampled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from rft_local_llm.engine import (
    Completion,
    Decoder,
    PrefixCache,
    PromptJob,
    Room,
    Sampling,
    Ticket,
)
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

    def pull(room: Room) -> list[Ticket]:
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

    def pull(room: Room) -> list[Ticket]:
        due = pulls.pop(0) if pulls else []
        return [Ticket(job, lambda done, name=name: results.__setitem__(name, done))
                for name, job in due]

    decoder.decode(pull)
    assert len(results["first"]) == 3 and results["later"] == alone


def test_a_batch_holds_no_more_kv_positions_than_its_token_budget(decoder: Decoder) -> None:
    """Rows x (longest prompt + max_tokens) stays within the budget: requests beyond it wait
    for room, and one request larger than the whole budget still runs, alone."""
    question = prompt(decoder, "Hi")
    span = len(question) + 4
    jobs = [PromptJob(question, 1, Sampling(temperature=0.0, max_tokens=4)) for _ in range(5)]
    alone = decoder.generate(jobs[:1])[0]
    decoder.batch_rows.clear()
    budget, decoder.max_batch_tokens = decoder.max_batch_tokens, 2 * span
    try:
        answers = decoder.generate(jobs)
        assert max(decoder.batch_rows) == 2  # never three rows of this span at once
        assert answers == [alone] * 5
        decoder.batch_rows.clear()
        decoder.max_batch_tokens = span - 1  # not even one row fits
        assert decoder.generate(jobs[:2]) == [alone] * 2
        assert max(decoder.batch_rows) == 1
    finally:
        decoder.max_batch_tokens = budget


def test_a_cancelled_request_leaves_the_batch_at_the_next_token(decoder: Decoder) -> None:
    long_answer = Sampling(temperature=0.0, max_tokens=200)
    kept_job = PromptJob(prompt(decoder, "Say yes."), 1, Sampling(temperature=0.0, max_tokens=3))
    abandoned = Ticket(PromptJob(prompt(decoder, "Tell me a long story."), 1, long_answer),
                       lambda done: pytest.fail("an abandoned request was answered"))
    kept: list[list[Completion]] = []
    steps = 0

    def pull(room: Room) -> list[Ticket]:
        nonlocal steps
        steps += 1
        if steps == 1:
            return [abandoned, Ticket(kept_job, kept.append)]
        if steps == 3:
            abandoned.cancelled = True  # the client went away
        return []

    decoder.decode(pull)
    assert len(kept) == 1 and kept[0][0].completion_tokens == 3
    assert steps < 10  # the 200-token answer was not decoded to its end
