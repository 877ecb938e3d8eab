"""Real prompts for dry runs: the sanitizer's output on the real sample traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from rft_sanitizer import SanitizerSettings, sanitize_files

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


@pytest.fixture(scope="session")
def sanitized_prompts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sanitized_prompts.jsonl of drone_training (tools) and toy_chat (no tools): 107 prompts."""
    out = tmp_path_factory.mktemp("sanitized")
    settings = SanitizerSettings(dataset="drone", data_dir=out / "state")
    sanitize_files([DATA / "drone_training.jsonl", DATA / "toy_chat_fine_tuning.jsonl"], out,
                   settings)
    return out / "sanitized_prompts.jsonl"
