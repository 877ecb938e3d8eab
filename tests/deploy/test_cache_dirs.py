"""One rule for every cache's default: ``$XDG_CACHE_HOME/rft`` when XDG_CACHE_HOME is set (the
images and pods set it to a writable volume, their root file system being read-only), else
``~/.cache/rft`` (rft_runtime.llm.settings.default_cache_dir)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rft_embedder.settings import EmbedderSettings
from rft_grader.wordnet_data import default_dir as wordnet_dir
from rft_runtime.llm.settings import LLMSettings, default_cache_dir
from rft_sanitizer.settings import SanitizerSettings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in [n for n in os.environ if n.startswith("RFT_") or n == "XDG_CACHE_HOME"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def defaults() -> dict[str, Path]:
    return {
        "models": LLMSettings().cache_dir,
        "onnx": EmbedderSettings().resolved_onnx_cache_dir(),
        "tokenizers": SanitizerSettings().tokenizer_cache_dir(),
        "wordnet": wordnet_dir(),
    }


def test_every_cache_default_follows_xdg_cache_home(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for name, path in defaults().items():
        assert path == tmp_path / "xdg" / "rft" / name


def test_without_xdg_cache_home_every_cache_default_is_under_home(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, path in defaults().items():
        assert path == tmp_path / "home" / ".cache" / "rft" / name


@pytest.mark.parametrize("value", ["", "relative/cache"])
def test_an_empty_or_relative_xdg_cache_home_is_ignored(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    """As the XDG base directory spec says: only an absolute path counts."""
    clean_env.setenv("XDG_CACHE_HOME", value)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "rft" / "models"


def test_explicit_cache_settings_still_win(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    clean_env.setenv("RFT_LLM_CACHE_DIR", str(tmp_path / "m"))
    clean_env.setenv("RFT_EMBEDDER_ONNX_CACHE_DIR", str(tmp_path / "o"))
    clean_env.setenv("RFT_SANITIZER_TOKENIZER_CACHE", str(tmp_path / "t"))
    assert LLMSettings().cache_dir == tmp_path / "m"
    assert EmbedderSettings().resolved_onnx_cache_dir() == tmp_path / "o"
    assert SanitizerSettings().tokenizer_cache_dir() == tmp_path / "t"
