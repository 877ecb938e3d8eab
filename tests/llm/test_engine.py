"""The batched decoder in-process: prefix reuse and batching must not change what is sampled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rft_runtime.llm.engine import Decoder, PrefixCache, PromptJob, Sampling
from rft_runtime.llm.model_store import ensure_checkpoint
from rft_runtime.llm.settings import LLMSettings

pytestmark = pytest.mark.slow

SYSTEM = {"role": "system", "content": "You are a drone pilot assistant. Answer briefly."}


@pytest.fixture(scope="module")
def decoder() -> Iterator[Decoder]:
    yield Decoder(ensure_checkpoint(LLMSettings().cache_dir))


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
