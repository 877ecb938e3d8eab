"""A token counter of its own (an empty segment cache) that records what it tokenizes, to
show which texts the sanitizer counts exactly and which its bounds settle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rft_sanitizer.tokens import SMOLLM2, TokenCounter, load_token_counter


class CountingTokenizer:
    """The real tokenizer, keeping the texts it was asked to encode."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.texts: list[str] = []

    def encode_batch_fast(self, texts: list[str], **options: Any) -> Any:
        self.texts += texts
        return self.tokenizer.encode_batch_fast(texts, **options)


def fresh_counter(tokenizer_cache: Path) -> tuple[TokenCounter, CountingTokenizer]:
    counter = load_token_counter(SMOLLM2, tokenizer_cache)  # an empty cache of its own
    calls = CountingTokenizer(counter.tokenizer)
    counter.tokenizer = calls  # type: ignore[assignment]
    return counter, calls
