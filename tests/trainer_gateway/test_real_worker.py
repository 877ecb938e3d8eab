"""One job through the API on the real training entrypoint (TRL GRPO on the local SmolLM2-135M,
on the CPU) with the smallest budget: 2 steps of 2 prompts x 2 samples of 8 tokens, evaluated on
2 valid prompts, then deployed (an export, and the local LLM server). It checks the wiring end
to end, not that the model improves (benchmarks do)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.llm.settings import LLMSettings
from rft_trainer_gateway.service import build_service
from rft_trainer_gateway.settings import TrainerSettings
from tests.trainer_gateway.conftest import request_body

TINY = {"max_steps": 2, "prompts_per_step": 2, "samples_per_prompt": 2,
        "max_completion_tokens": 8, "eval_every_steps": 1, "eval_prompts": 2,
        "eval_samples_per_prompt": 2, "final_eval_samples_per_prompt": 2,
        "final_eval_prompts": 2, "report_to": []}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = TrainerSettings(data_dir=tmp_path, kafka_bootstrap=None,
                               trainer_poll_interval_s=0.5)
    app, _, _ = build_service(settings, registry=CollectorRegistry())
    with TestClient(app) as client:
        yield client


def wait_ended(client: TestClient, job_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/training-jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        time.sleep(1)
    raise TimeoutError(f"job {job_id} still {job['status']} at step {job['step']}")


@pytest.mark.slow
def test_a_tiny_job_trains_on_the_real_worker_and_writes_its_results(
        client: TestClient, tmp_path: Path) -> None:
    created = client.post("/v1/training-jobs", json=request_body(hyperparameters=TINY))
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    job = wait_ended(client, job_id, timeout_s=1200)
    events = client.get(f"/v1/training-jobs/{job_id}/events",
                        params={"format": "json", "limit": 1000}).json()["data"]
    assert job["status"] == "succeeded", (job["error"], [e["message"] for e in events])
    assert job["step"] == 2 and job["total_steps"] == 2 and job["attempts"] == 1
    kinds = [e["kind"] for e in events]
    assert kinds.count("step") == 2 and "eval" in kinds and "checkpoint" in kinds
    assert kinds[-2:] == ["results", "status"]
    assert all(e["train_reward"] is not None for e in events if e["kind"] == "step")
    checkpoints = client.get(f"/v1/training-jobs/{job_id}/checkpoints").json()
    assert {c["name"] for c in checkpoints} >= {"checkpoint-2"}
    assert job["best_checkpoint"] in {c["path"] for c in checkpoints}
    results = client.get(f"/v1/training-jobs/{job_id}/results").json()
    assert results["job_id"] == job_id and results["prompts"] == 2
    # Two prompts cannot open the gate; a forced export records its reason.
    deployed = client.post(f"/v1/training-jobs/{job_id}/deploy", json={
        "target": "export", "force": True, "reason": "wiring test"})
    assert deployed.status_code == 200, deployed.text
    result = deployed.json()
    assert result["confirmed"] and result["reason"] == "wiring test"
    assert (Path(result["location"]) / "config.json").is_file()
    tuned = client.get(f"/v1/training-jobs/{job_id}").json()["tuned_model"]
    assert tuned == result["model_name"]

    # To the local LLM server, so a user on this machine talks to the tuned model by its name.
    server = LocalLLMServer(LLMSettings(local_deployed_models=tmp_path / "served.json",
                                        local_threads=1))
    server.start()
    try:
        local = client.post(f"/v1/training-jobs/{job_id}/deploy", json={
            "target": "local", "base_url": server.base_url, "model_name": "sums-tuned",
            "force": True, "reason": "wiring test"})
        assert local.status_code == 200, local.text
        assert local.json()["confirmed"] and local.json()["model_name"] == "sums-tuned"
        models = httpx.get(f"{server.base_url}/models", timeout=30).json()["data"]
        assert "sums-tuned" in {m["id"] for m in models}
    finally:
        server.stop()


@pytest.mark.slow
def test_the_real_worker_killed_mid_run_resumes_from_its_checkpoint(
        client: TestClient) -> None:
    body = request_body(hyperparameters={**TINY, "max_steps": 3})
    job_id = client.post("/v1/training-jobs", json=body).json()["id"]
    url = f"/v1/training-jobs/{job_id}/events"
    deadline = time.monotonic() + 900
    while not any(e["kind"] == "checkpoint" for e in client.get(
            url, params={"format": "json", "limit": 1000}).json()["data"]):
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.5)
    supervisor = client.app.state.supervisor  # type: ignore[attr-defined]
    handle = supervisor.store.record(job_id).handle
    os.kill(handle.pid, signal.SIGKILL)
    job = wait_ended(client, job_id, timeout_s=1200)
    events = client.get(url, params={"format": "json", "limit": 1000}).json()["data"]
    notes = [e["message"] for e in events if e["kind"] == "status"]
    assert job["status"] == "succeeded", (job["error"], notes)
    assert job["attempts"] == 2 and job["resumed_from"].endswith("checkpoint-1")
    assert any(m.startswith("resumed from checkpoint-1 after the training process died at "
                            "step ") and "(exit code -9)" in m for m in notes), notes
    assert sorted({e["step"] for e in events if e["kind"] == "step"}) == [1, 2, 3]


@pytest.mark.slow
def test_the_wall_clock_stops_the_real_worker_at_a_step_and_it_still_compares(
        client: TestClient) -> None:
    """The CPU default's half hour, in miniature: a clock that runs out during step 1 of 3
    ends the training at that step's boundary, and step J's comparison is still written."""
    body = request_body(hyperparameters={**TINY, "max_steps": 3, "wall_clock_budget_s": 1})
    job_id = client.post("/v1/training-jobs", json=body).json()["id"]
    job = wait_ended(client, job_id, timeout_s=1200)
    events = client.get(f"/v1/training-jobs/{job_id}/events",
                        params={"format": "json", "limit": 1000}).json()["data"]
    assert job["status"] == "succeeded", (job["error"], [e["message"] for e in events])
    assert (job["step"], job["total_steps"]) == (1, 3)
    assert [e["step"] for e in events if e["kind"] == "step"] == [1]
    assert "stopped at step 1 of 3: the wall-clock budget of 1 s" in events[-1]["message"]
    assert client.get(f"/v1/training-jobs/{job_id}/results").json()["prompts"] == 2
