"""The local default tokenizer, rebuilt offline from SmolLM2's GGUF, and the byte bounds."""

from __future__ import annotations

import random
import sys
import threading
from pathlib import Path

import pytest

from rft_sanitizer.tokens import (
    SMOLLM2,
    TokenCounter,
    TokenizerUnavailable,
    load_token_counter,
    render_prompt,
    render_segments,
)
from rft_schemas.conversation import Message
from tests.sanitizer.counting import fresh_counter

# Reference ids from transformers' own GGUF tokenizer conversion of the same file
# (AutoTokenizer.from_pretrained(dir, gguf_file=...)), recorded once: digits split one by one,
# byte-level BPE, control tokens whole.
REFERENCE = {
    "Hello world! 12345 naïve café — 東京 <|im_start|>user\nhi<|im_end|>": [
        19556, 905, 17, 216, 33, 34, 35, 36, 37, 15486, 46494, 37366, 1841, 17097, 247, 126,
        16736, 122, 216, 1, 4093, 198, 6004, 2],
    "  multiple   spaces\n\n\ttabs": [216, 2701, 256, 5600, 1116, 197, 100, 7366],
    "def f(x):\n    return x**2  # ok": [
        1604, 275, 24, 104, 727, 472, 1003, 1792, 828, 34, 216, 907, 10907],
    "I'd've they're 3.14159 $100,000": [
        57, 6737, 3543, 502, 2316, 216, 35, 30, 33, 36, 33, 37, 41, 1885, 33, 32, 32, 28, 32,
        32, 32],
}


def test_gguf_tokenizer_matches_the_reference_ids(counter: TokenCounter):
    for text, ids in REFERENCE.items():
        assert counter.tokenizer.encode(text, add_special_tokens=False).ids == ids


def test_tokenizer_is_cached_as_tokenizer_json(counter: TokenCounter, tokenizer_cache: Path):
    cached = tokenizer_cache / f"{SMOLLM2}.tokenizer.json"
    assert cached.is_file()
    again = load_token_counter(SMOLLM2, tokenizer_cache)  # from the cache, not the GGUF
    text = next(iter(REFERENCE))
    assert again.count(text) == counter.count(text)
    assert again.max_token_bytes == counter.max_token_bytes == 81


def test_tokenizer_json_path_loads_as_a_tokenizer_by_name(tokenizer_cache: Path, counter):
    path = str(tokenizer_cache / f"{SMOLLM2}.tokenizer.json")
    by_path = load_token_counter(path, tokenizer_cache)
    assert by_path.count("I'd've they're") == counter.count("I'd've they're")


def test_segment_counts_add_up_to_the_whole_rendering(counter: TokenCounter):
    messages = [
        Message(role="system", content="You are helpful.\n\n  Indented 123."),
        Message(role="user", content="Résumé: 4 items — naïve? ok!!"),
        Message(role="assistant", content="  leading spaces and trailing  "),
        Message(role="user", content="\n\nnewlines first"),
    ]
    whole = counter.count(render_prompt(messages, None))
    assert counter.count_segments(render_segments(messages, None)) == whole


def test_bounds_hold_for_real_text(counter: TokenCounter):
    for text in (*REFERENCE, "a" * 500, " " * 400, "x1" * 300, "東京" * 100):
        n = counter.count(text)
        lower, upper = counter.bounds(len(text.encode()))
        assert lower <= n <= upper, text[:20]


def test_a_hub_tokenizer_not_in_the_local_cache_is_refused_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(TokenizerUnavailable) as raised:
        load_token_counter("someorg/not-downloaded-model", tmp_path)
    assert "hf download someorg/not-downloaded-model" in str(raised.value)


def segments_of(*texts: str) -> list[str]:
    return render_segments([Message(role="user", content=text) for text in texts], None)


def test_settle_counts_nothing_the_byte_bounds_already_place(tokenizer_cache: Path):
    counter, calls = fresh_counter(tokenizer_cache)
    segments = segments_of("Please move my flight HAT156 to Friday morning. " * 20)
    lower, upper = counter.settle(segments, 8, 8192)
    assert 8 <= lower < upper <= 8192 and calls.texts == []


def test_settle_counts_the_longest_new_segment_first_and_stops_once_placed(tokenizer_cache):
    counter, calls = fresh_counter(tokenizer_cache)
    long_text = "Refund the unused legs of booking ABC123 to the original card. " * 160
    segments = segments_of("Hi there, one question.", long_text, "And thanks.")
    lower, upper = counter.settle(segments, 8, 8192)
    assert calls.texts == [segments[1]]  # 10 KB: the bytes alone leave max open
    exact = counter.count_segments(segments)
    assert 8 <= lower <= exact <= upper <= 8192


def test_settle_stops_counting_once_the_prompt_is_surely_too_long(tokenizer_cache):
    counter, calls = fresh_counter(tokenizer_cache)
    words = "flight booking refund " * 1200
    segments = segments_of(words + "a", words + "b", words + "c")
    lower, _ = counter.settle(segments, 8, 2000)
    assert lower > 2000 and len(calls.texts) == 1  # one 26 KB segment is past the limit


def test_settle_gives_the_exact_count_of_segments_counted_before(tokenizer_cache):
    counter, calls = fresh_counter(tokenizer_cache)
    segments = segments_of("Move HAT156 to Friday.", "You book flights. " * 40)
    exact = counter.count_segments(segments)
    calls.texts.clear()
    assert counter.settle(segments, 8, 8192) == (exact, exact) and calls.texts == []
    # a known system prompt settles a short new question without the tokenizer
    with_new = [*segments[1:], *segments_of("Hi")]
    lower, upper = counter.settle(with_new, 8, 8192)
    assert calls.texts == [] and lower >= 8 and upper <= 8192


def test_one_counter_serves_concurrent_threads(counter: TokenCounter):
    """The service sanitizes concurrent requests in worker threads with one counter: its
    cache evicts under them without losing a count or raising."""
    small = TokenCounter(counter.name, counter.tokenizer, counter.max_token_bytes, cache_size=1)
    texts = segments_of(*(f"segment number {i}" for i in range(8)))
    truth = {text: counter.count(text) for text in texts}
    failures: list[str] = []

    def work(seed: int) -> None:
        draw = random.Random(seed)
        try:
            for _ in range(3000):
                picked = draw.sample(texts, 2)
                assert small.count_segments(picked) == sum(truth[t] for t in picked)
        except Exception as error:
            failures.append(repr(error))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
