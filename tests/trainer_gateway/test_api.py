"""The trainer gateway's HTTP API in process, training with the stand-in worker: bad requests
refused at their field with nothing queued, events as SSE resumable by Last-Event-ID and as
JSON pages, cancel, checkpoints, results and the deploy gate."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from rft_trainer_gateway.service import build_service
from rft_trainer_gateway.settings import TrainerSettings
from tests.trainer_gateway.conftest import request_body, rows

STANDIN = "tests.trainer_gateway.standin_worker"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainerSettings:
    monkeypatch.setenv("STANDIN_STEP_S", "0.2")
    return TrainerSettings(data_dir=tmp_path / "data", kafka_bootstrap=None,
                           trainer_worker_module=STANDIN, trainer_poll_interval_s=0.1,
                           trainer_cancel_grace_s=20)


@pytest.fixture
def client(settings: TrainerSettings) -> Iterator[TestClient]:
    app, _, _ = build_service(settings, registry=CollectorRegistry())
    with TestClient(app) as client:
        yield client


def wait_for(client: TestClient, job_id: str, *statuses: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/training-jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} is {job['status']}, not {statuses}")


def sse_events(lines: Iterator[str]) -> list[tuple[int, dict[str, Any]]]:
    events, event_id = [], None
    for line in lines:
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            assert event_id is not None
            events.append((event_id, json.loads(line[6:])))
    return events


def hp(**fields: Any) -> dict[str, Any]:
    return {**request_body()["hyperparameters"], **fields}


BAD_REQUESTS = {
    "unknown base model": ({"base_model": "no-such-org/no-such-model"}, ["body", "base_model"]),
    "a grader reading a field the rows lack": (
        {"grader": {"type": "string_check", "name": "g", "input": "{{sample.output_text}}",
                    "reference": "{{item.answer}}", "operation": "eq"}}, ["body", "grader"]),
    "k = 1": ({"hyperparameters": hp(samples_per_prompt=1)},
              ["body", "hyperparameters", "samples_per_prompt"]),
    "batch not divisible by k": ({"hyperparameters": hp(batch_size=6, samples_per_prompt=4)},
                                 ["body", "hyperparameters"]),
    "an empty split": ({"train": {"rows": []}}, ["body", "train", "rows"]),
    "a missing file": ({"valid": {"file": "/nonexistent/valid.jsonl"}},
                       ["body", "valid", "file"]),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_bad_request_is_a_422_naming_its_field_and_nothing_is_queued(
        client: TestClient, settings: TrainerSettings, case: str) -> None:
    overrides, field = BAD_REQUESTS[case]
    answer = client.post("/v1/training-jobs", json=request_body(**overrides))
    assert answer.status_code == 422, answer.text
    assert field in [error["loc"] for error in answer.json()["detail"]], answer.json()
    assert client.get("/v1/training-jobs").json()["data"] == []
    jobs_dir = settings.resolved_jobs_dir()
    assert not jobs_dir.exists() or not any(jobs_dir.iterdir())


def test_a_job_trains_to_its_results_and_its_events_resume_after_last_event_id(
        client: TestClient) -> None:
    created = client.post("/v1/training-jobs", json=request_body())
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["status"] == "queued" and job["train_rows"] == 4 and job["total_steps"] == 3
    url = f"/v1/training-jobs/{job['id']}/events"
    with client.stream("GET", url) as first:
        lines = first.iter_lines()
        head = []
        for line in lines:
            head.append(line)
            if line.startswith("data: ") and len(sse_events(iter(head))) == 3:
                break
    seen = sse_events(iter(head))
    with client.stream("GET", url, headers={"Last-Event-ID": str(seen[-1][0])}) as rest:
        seen += sse_events(rest.iter_lines())  # the stream ends with the job
    ids = [event_id for event_id, _ in seen]
    assert ids == list(range(1, len(ids) + 1)), "nothing missed, nothing repeated"
    kinds = [event["kind"] for _, event in seen]
    assert kinds[0] == "status" and seen[0][1]["status"] == "queued"
    assert kinds[-2:] == ["results", "status"] and seen[-1][1]["status"] == "succeeded"
    assert kinds.count("step") == 3

    page = client.get(url, params={"format": "json", "after": 2, "limit": 3}).json()
    assert [e["seq"] for e in page["data"]] == [3, 4, 5] and page["has_more"]
    assert page["last_seq"] == 5

    done = client.get(f"/v1/training-jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and done["step"] == 3 and done["attempts"] == 1
    assert done["best_checkpoint"].endswith("checkpoint-3")
    checkpoints = client.get(f"/v1/training-jobs/{job['id']}/checkpoints").json()
    assert [c["name"] for c in checkpoints] == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    assert [c["best"] for c in checkpoints] == [False, False, True]
    results = client.get(f"/v1/training-jobs/{job['id']}/results")
    assert results.status_code == 200 and results.json()["job_id"] == job["id"]


def test_results_wait_for_the_comparison_and_the_deploy_gate_holds_without_force(
        client: TestClient) -> None:
    job = client.post("/v1/training-jobs", json=request_body()).json()
    early = client.get(f"/v1/training-jobs/{job['id']}/results")
    assert early.status_code == 409 and "not ready" in early.json()["detail"]
    wait_for(client, job["id"], "succeeded")
    refused = client.post(f"/v1/training-jobs/{job['id']}/deploy", json={"target": "export"})
    assert refused.status_code == 409
    assert refused.json()["reasons"] == ["the change's interval includes zero"]
    no_reason = client.post(f"/v1/training-jobs/{job['id']}/deploy",
                            json={"target": "export", "force": True})
    assert no_reason.status_code == 422
    elsewhere = client.post(f"/v1/training-jobs/{job['id']}/deploy", json={
        "target": "export", "force": True, "reason": "try", "export_dir": "/etc/rft-model"})
    assert elsewhere.status_code == 422
    assert elsewhere.json()["detail"][0]["loc"] == ["body", "export_dir"]


def test_a_cancelled_job_stops_and_keeps_its_checkpoints(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    body = request_body(hyperparameters=hp(max_steps=200))
    job = client.post("/v1/training-jobs", json=body).json()
    deadline = time.monotonic() + 60
    while not client.get(f"/v1/training-jobs/{job['id']}/checkpoints").json():
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.1)
    answer = client.post(f"/v1/training-jobs/{job['id']}/cancel")
    assert answer.status_code == 200 and answer.json()["status"] == "cancelling"
    done = wait_for(client, job["id"], "cancelled", "succeeded", "failed")
    assert done["status"] == "cancelled" and done["step"] < 200 and done["finished_at"]
    assert client.get(f"/v1/training-jobs/{job['id']}/checkpoints").json()
    again = client.post(f"/v1/training-jobs/{job['id']}/cancel")
    assert again.status_code == 409


def test_a_queued_job_is_cancelled_at_once_and_the_next_one_runs(client: TestClient) -> None:
    """One job trains at a time (the default concurrency): the second waits, queued."""
    first = client.post("/v1/training-jobs", json=request_body(
        hyperparameters=hp(max_steps=200))).json()
    second = client.post("/v1/training-jobs", json=request_body()).json()
    wait_for(client, first["id"], "running")
    assert client.get(f"/v1/training-jobs/{second['id']}").json()["status"] == "queued"
    cancelled = client.post(f"/v1/training-jobs/{second['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    events = client.get(f"/v1/training-jobs/{second['id']}/events",
                        params={"format": "json"}).json()["data"]
    assert [e["message"] for e in events] == ["queued", "cancelled before it started"]
    client.post(f"/v1/training-jobs/{first['id']}/cancel")
    wait_for(client, first["id"], "cancelled")


def test_jobs_are_listed_newest_first_in_pages(client: TestClient) -> None:
    ids = [client.post("/v1/training-jobs", json=request_body(
        train={"rows": rows(2)}, hyperparameters=hp(max_steps=1))).json()["id"]
        for _ in range(3)]
    first = client.get("/v1/training-jobs", params={"limit": 2}).json()
    assert [j["id"] for j in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = client.get("/v1/training-jobs", params={"limit": 2, "after": ids[1]}).json()
    assert [j["id"] for j in rest["data"]] == [ids[0]] and not rest["has_more"]
    assert client.get("/v1/training-jobs/ftjob-nope").status_code == 404
    for job_id in ids:
        wait_for(client, job_id, "succeeded")


def test_metrics_count_jobs_by_status_and_the_events_stored(client: TestClient) -> None:
    job = client.post("/v1/training-jobs", json=request_body(
        hyperparameters=hp(max_steps=1))).json()
    wait_for(client, job["id"], "succeeded")
    deadline = time.monotonic() + 10
    while 'rft_trainer_jobs{status="succeeded"} 1.0' not in (text := client.get(
            "/metrics").text):
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    stored = next(line for line in text.splitlines()
                  if line.startswith("rft_trainer_events_stored_total"))
    assert float(stored.split()[-1]) >= 5


def test_the_budget_for_a_device_is_what_a_job_gets_by_default_and_why(
    client: TestClient, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu = client.get("/v1/training-budget", params={"device": "cpu"}).json()
    assert cpu["hyperparameters"]["max_steps"] == 40 and cpu["reason"].startswith("CPU budget")
    gpu = client.get("/v1/training-budget", params={"device": "cuda"}).json()
    assert gpu["hyperparameters"]["epochs"] == 1.0 and gpu["hyperparameters"]["max_steps"] is None
    assert client.get("/v1/training-budget", params={"device": "tpu"}).status_code == 422
    monkeypatch.setenv("RFT_TRAIN_MAX_STEPS", "6")  # the gateway's settings apply, and say so
    mine = client.get("/v1/training-budget").json()
    assert mine["hyperparameters"]["max_steps"] == 6 and "set by you: max_steps" in mine["reason"]
