"""A text is cut to the model's window before it is tokenized: the tokens the model reads are
the same, and a huge text costs about its window (a 20 MB text took 51 s and 3.5 GB before)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from rft_embedder import EmbedderSettings, load_embedder
from rft_embedder.models import Embedder, resolve_model_source, window_prefix
from rft_embedder.onnx_model import export_dir_for

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
WINDOW = 256


@pytest.fixture(scope="module")
def cached_embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The default model from the shared ONNX cache (exported once per machine)."""
    return load_embedder(EmbedderSettings(backend="onnx"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def tokenizer(cached_embedder: Embedder) -> Tokenizer:
    settings = EmbedderSettings()
    export = export_dir_for(
        settings.resolved_onnx_cache_dir(), settings.model, resolve_model_source(settings.model)
    )
    plain = Tokenizer.from_file(str(export / "tokenizer.json"))
    plain.no_truncation()
    plain.no_padding()
    return plain


def real_text(chars: int) -> str:
    text = (DATA / "toolace_sharegpt_100.json").read_text()
    return (text * (chars // len(text) + 1))[:chars]


@pytest.mark.parametrize(
    "text",
    [
        real_text(200_000),
        "word " * 10_000,
        "ünïcödé, punctuation!? and émojis 🚁 " * 2_000,
        ("a" * 150 + " ") * 500,  # words longer than WordPiece's 100-character limit
        "x" * 100_000,  # no whitespace at all
        "short text",
    ],
    ids=["real", "words", "unicode", "long-words", "no-space", "short"],
)
def test_the_prefix_has_the_whole_texts_first_window_of_tokens(
    text: str, tokenizer: Tokenizer
) -> None:
    prefix = window_prefix(text, tokenizer, WINDOW)
    assert text.startswith(prefix) and len(prefix) <= 64 * WINDOW
    whole = tokenizer.encode(text, add_special_tokens=False).ids[:WINDOW]
    read = tokenizer.encode(prefix, add_special_tokens=False).ids[:WINDOW]
    if text.startswith(("a" * 150,)):
        # 151 characters a token: cut at a word boundary past 64 a token, so fewer tokens
        assert 0 < len(read) < WINDOW and read == whole[: len(read)]
    else:
        assert read == whole


def test_a_20_mb_text_is_embedded_in_about_the_time_of_its_window(
    cached_embedder: Embedder,
) -> None:
    huge = real_text(20 * 1024 * 1024)
    began = time.perf_counter()
    [vector] = cached_embedder.embed([huge])
    took = time.perf_counter() - began
    [start] = cached_embedder.embed([huge[:3_000]])
    assert took < 5.0, f"{took:.1f}s for 20 MB (51 s when the whole text was tokenized)"
    assert np.allclose(vector, start, atol=1e-5)
