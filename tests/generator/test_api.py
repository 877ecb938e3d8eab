"""The generator service's HTTP API on the real local model: submit, follow, refuse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rft_generator import GeneratorSettings
from rft_generator.service import build_service
from rft_runtime.llm import LLMSettings, LocalLLMServer
from rft_runtime.settings import RuntimeSettings
from rft_schemas import CategorizedPrompt


def test_job_submitted_over_http_reports_progress_until_done(
    tmp_path: Path, local_llm: LocalLLMServer, categorized: list[CategorizedPrompt],
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RFT_EMBEDDER_BACKEND", "onnx")
    monkeypatch.setenv("RFT_EMBEDDER_ONNX_CACHE_DIR", str(request.config.cache.mkdir("rft-onnx")))
    dataset_dir = tmp_path / "drone"
    dataset_dir.mkdir()
    (dataset_dir / "categorized_prompts.jsonl").write_text(
        "".join(c.model_dump_json() + "\n" for c in categorized)
    )
    app, stages, _ = build_service(
        RuntimeSettings(data_dir=tmp_path), GeneratorSettings(data_dir=tmp_path),
        LLMSettings(base_url=local_llm.base_url),
    )
    assert stages == []  # no broker configured: HTTP only
    body = {"id": "http-1", "dataset": "drone", "targets": {"drone/camera": 1},
            "max_tokens": 40, "candidates_per_request": 4, "temperature": 0.7,
            "max_attempts_per_prompt": 12}
    with TestClient(app) as client:
        created = client.post("/v1/generation-jobs", json=body)
        assert created.status_code == 202, created.text
        assert created.json()["job"]["id"] == "http-1"
        deadline = time.monotonic() + 150
        while True:
            state = client.get("/v1/generation-jobs/http-1").json()
            if state["job"]["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["job"]["status"] == "succeeded" and state["job"]["error"] is None, state
        (topic,) = state["topics"]
        assert topic["topic"] == "drone/camera" and topic["generated"] == 1
        assert 0 < state["pass_rate"] <= 1 and len(topic["previews"]) == 1
        assert "drone/camera:" in state["screen"] and "Target: +1" in state["screen"]
        assert (tmp_path / "generator" / "http-1" / "synthetic_prompts.jsonl").is_file()
        again = client.post("/v1/generation-jobs", json=body)  # same id: the same job
        assert again.json()["job"]["status"] == "succeeded"
        assert client.get("/v1/generation-jobs/nope").status_code == 404
        missing = client.post("/v1/generation-jobs", json={**body, "id": "x", "dataset": "none"})
        assert missing.status_code == 409 and "no categorized prompts" in missing.text
