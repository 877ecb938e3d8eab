"""`rft generate` on step C's file with the real local model: the seed's progress screen, and
synthetic prompts that carry the request's few-shot examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rft_categorizer.categorized_file import write_categorized
from rft_cli.generate_commands import app
from rft_runtime.llm import LocalLLMServer
from rft_schemas import CategorizedPrompt


def test_generate_command_fills_a_target_and_shows_progress_per_topic(
    tmp_path: Path, categorized: list[CategorizedPrompt], local_llm: LocalLLMServer,
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RFT_LLM_BASE_URL", local_llm.base_url)
    monkeypatch.setenv("RFT_EMBEDDER_BACKEND", "onnx")
    monkeypatch.setenv("RFT_EMBEDDER_ONNX_CACHE_DIR", str(request.config.cache.mkdir("rft-onnx")))
    out = tmp_path / "drone"
    out.mkdir()
    write_categorized(out / "categorized_prompts.jsonl", categorized)
    result = CliRunner().invoke(app, [
        "generate", "--out", str(out), "--target", "drone/camera=2", "--few-shot", "3",
        "--max-tokens", "40", "--seed", "5", "--temperature", "0.7",
    ], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    screen = result.output
    assert "Generate Synthetic Samples" in screen and "drone/camera:" in screen
    assert "Target: +2  Generated: 2" in screen and "Validation pass rate:" in screen
    rows = [json.loads(x) for x in (out / "synthetic_prompts.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    camera = {c.prompt.id for c in categorized if c.topic_path == ["drone", "camera"]}
    for row in rows:
        assert len(row["seed_example_ids"]) == 3, "the request's few-shot count"
        assert set(row["seed_example_ids"]) <= camera
        assert row["prompt"]["origin"] == "synthetic"
