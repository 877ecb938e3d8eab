"""The trainer gateway as its own process (`python -m rft_trainer_gateway`), as `rft up` and
Kubernetes run it: killed and restarted while a job trains (no job lost), and the training
process killed under it (resumed from its checkpoint). Training is the stand-in worker's."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rft_trainer_gateway.store import JobStore
from tests.integration.service_process import ServiceProcess
from tests.trainer_gateway.conftest import request_body

STANDIN = "tests.trainer_gateway.standin_worker"


class GatewayProcess(ServiceProcess):
    def __init__(self, data_dir: Path, step_s: float = 0.3) -> None:
        super().__init__("rft_trainer_gateway", {
            "RFT_DATA_DIR": str(data_dir), "RFT_TRAINER_WORKER_MODULE": STANDIN,
            "RFT_TRAINER_POLL_INTERVAL_S": "0.2", "STANDIN_STEP_S": str(step_s),
            "STANDIN_HOLD": str(data_dir / "hold"), "RFT_LOG_LEVEL": "WARNING"})
        self.env.pop("RFT_KAFKA_BOOTSTRAP", None)
        self.data_dir = data_dir

    def training_pid(self, job_id: str) -> int:
        record = JobStore(str(self.data_dir / "trainer" / "jobs.sqlite")).record(job_id)
        assert record.handle is not None and record.handle.pid is not None
        return record.handle.pid


async def events_of(client: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/v1/training-jobs/{job_id}/events",
                              params={"format": "json", "limit": 1000})
    return answer.json()["data"]


async def wait_until(client: httpx.AsyncClient, job_id: str, done: Any,
                     timeout_s: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = await events_of(client, job_id)
        if done(events):
            return events
        await asyncio.sleep(0.2)
    raise TimeoutError(f"not reached; events: {[e['message'] or e['kind'] for e in events]}")


def has_checkpoint(events: list[dict[str, Any]]) -> bool:
    return any(e["kind"] == "checkpoint" for e in events)


def ended(events: list[dict[str, Any]]) -> bool:
    return any(e["kind"] == "status" and e["status"] in ("succeeded", "failed", "cancelled")
               for e in events)


def status_messages(events: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in events if e["kind"] == "status"]


def steps(events: list[dict[str, Any]]) -> list[int]:
    return [e["step"] for e in events if e["kind"] == "step"]


async def submit(client: httpx.AsyncClient, max_steps: int) -> str:
    body = request_body()
    body["hyperparameters"]["max_steps"] = max_steps
    created = await client.post("/v1/training-jobs", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.slow
async def test_a_gateway_killed_while_a_job_trains_re_attaches_to_it(tmp_path: Path) -> None:
    gateway, restarted = GatewayProcess(tmp_path), GatewayProcess(tmp_path)
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            job_id = await submit(client, max_steps=12)
            await wait_until(client, job_id, has_checkpoint)
        (tmp_path / "hold").touch()  # training waits at its next step until the test goes on
        pid = gateway.training_pid(job_id)
        gateway.kill()
        os.kill(pid, 0)  # the training process outlives the gateway
        await restarted.start()
        async with httpx.AsyncClient(base_url=restarted.url, timeout=30) as client:
            await wait_until(client, job_id, lambda events: any(
                (e["message"] or "").startswith("re-attached") for e in events))
            (tmp_path / "hold").unlink()
            events = await wait_until(client, job_id, ended)
            job = (await client.get(f"/v1/training-jobs/{job_id}")).json()
        assert f"re-attached to the running training process (pid {pid})" in (
            status_messages(events))
        assert job["status"] == "succeeded" and job["attempts"] == 1
        assert steps(events) == list(range(1, 13)), "every step once: none lost, none twice"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    finally:
        gateway.stop()
        restarted.stop()


@pytest.mark.slow
async def test_a_training_process_killed_under_the_gateway_resumes_from_its_checkpoint(
        tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path)
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            job_id = await submit(client, max_steps=8)
            await wait_until(client, job_id, has_checkpoint)
            (tmp_path / "hold").touch()  # it cannot finish before it is killed
            os.kill(gateway.training_pid(job_id), signal.SIGKILL)
            (tmp_path / "hold").unlink()
            events = await wait_until(client, job_id, ended)
            job = (await client.get(f"/v1/training-jobs/{job_id}")).json()
        notes = status_messages(events)
        resumed = [m for m in notes if "after the training process died" in m]
        assert len(resumed) == 1 and resumed[0].startswith("resumed from checkpoint-"), notes
        assert job["status"] == "succeeded" and job["attempts"] == 2
        assert job["resumed_from"].endswith(resumed[0].split()[2])
        assert sorted(set(steps(events))) == list(range(1, 9))
    finally:
        gateway.stop()


@pytest.mark.slow
async def test_a_job_whose_process_died_with_the_gateway_is_resumed_on_restart(
        tmp_path: Path) -> None:
    gateway, restarted = GatewayProcess(tmp_path), GatewayProcess(tmp_path)
    await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            job_id = await submit(client, max_steps=8)
            await wait_until(client, job_id, has_checkpoint)
        (tmp_path / "hold").touch()  # it cannot finish before it is killed
        pid = gateway.training_pid(job_id)
        gateway.kill()
        os.kill(pid, signal.SIGKILL)  # as when the machine or the pod went down
        (tmp_path / "hold").unlink()
        await restarted.start()
        async with httpx.AsyncClient(base_url=restarted.url, timeout=30) as client:
            events = await wait_until(client, job_id, ended)
            job = (await client.get(f"/v1/training-jobs/{job_id}")).json()
        notes = status_messages(events)
        assert any(m.startswith("resumed from checkpoint-") and "after the training process "
                   "was gone when the gateway restarted" in m for m in notes), notes
        assert job["status"] == "succeeded" and job["attempts"] == 2
    finally:
        gateway.stop()
        restarted.stop()
