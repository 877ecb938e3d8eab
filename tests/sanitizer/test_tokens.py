"""The local default tokenizer, rebuilt offline from SmolLM2's GGUF, and the byte bounds."""

from __future__ import annotations

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


def test_segment_bounds_are_exact_for_segments_counted_before(tokenizer_cache: Path):
    fresh = load_token_counter(SMOLLM2, tokenizer_cache)  # an empty cache of its own
    system = render_segments([Message(role="system", content="You book flights. " * 40)], None)
    question = render_segments([Message(role="user", content="Move HAT156 to Friday.")], None)
    segments = system + question
    lower, upper = fresh.segment_bounds(segments)
    byte_lower = sum(fresh.bounds(len(s.encode()))[0] for s in segments)
    byte_upper = sum(fresh.bounds(len(s.encode()))[1] for s in segments)
    assert (lower, upper) == (byte_lower, byte_upper)

    system_tokens = fresh.count_segments(system)
    lower, upper = fresh.segment_bounds(segments)
    question_lower, question_upper = fresh.bounds(len(question[0].encode()))
    assert (lower, upper) == (system_tokens + question_lower, system_tokens + question_upper)
    assert lower <= fresh.count_segments(segments) <= upper
    exact = fresh.segment_bounds(segments)
    assert exact == (fresh.count_segments(segments),) * 2
