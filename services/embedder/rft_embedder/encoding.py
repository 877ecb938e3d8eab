"""What both embedding backends share (:mod:`rft_embedder.models`' sentence-transformers one and
:mod:`rft_embedder.onnx_model`'s ONNX Runtime one): the vectors' type, the cut of a text to the
prefix a model's window reads, and loading a sentence-transformers model.
"""

from __future__ import annotations

import re
from typing import Any

from rft_runtime.embedding.model import Vectors

__all__ = ["Vectors", "load_sentence_transformer", "window_prefix"]

# A tokenizer reads the whole text before it truncates: one 20 MB text took 51 s and 3.5 GB to
# embed though the model reads its first 256 tokens. So a text is cut to a prefix first. Past
# this many characters per token of the window the prefix is cut at its last whitespace
# without counting (real text has about 4; only runs of words longer than WordPiece's
# 100-character limit, one unknown token each, get that far, and then fewer tokens are read).
_MAX_CHARS_PER_TOKEN = 64
_LAST_SPACE = re.compile(r"\s(?=\S*$)")


def window_prefix(text: str, tokenizer: Any, window: int) -> str:
    """A prefix of ``text`` whose first ``window`` tokens are those of the whole text, found by
    tokenizing (with ``tokenizer``, a ``tokenizers.Tokenizer``) doubling prefixes, so a huge
    text costs about its window, not its length.

    A prefix is enough once it holds ``window`` tokens that all end before its last whitespace:
    tokenizers split words at whitespace, so the cut word after it cannot change them.
    """
    size = window * 8
    limit = window * _MAX_CHARS_PER_TOKEN
    while size < len(text):
        prefix = text[:size]
        last_space = _LAST_SPACE.search(prefix)
        if size >= limit:
            return prefix[: last_space.start()] if last_space else prefix
        if last_space is not None:
            offsets = tokenizer.encode(prefix, add_special_tokens=False).offsets
            if len(offsets) >= window and offsets[window - 1][1] <= last_space.start():
                return prefix
        size *= 2
    return text


def load_sentence_transformer(
    source: str, device: str, model_kwargs: dict[str, Any] | None = None
) -> Any:
    from sentence_transformers import SentenceTransformer

    # local_files_only: nothing downloads at run time; a model by name must be in the HF cache.
    return SentenceTransformer(
        source, device=device, local_files_only=True, model_kwargs=model_kwargs
    )
