"""The service's JobSupervisor, round by round (``tick``), with the stand-in worker: nothing read
from a job's event log is lost when the store is briefly unreachable."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from rft_runtime.sql import StoreUnavailable
from rft_schemas import JobStatus, TrainingJobRequest
from rft_trainer_gateway.backends.local import LocalTrlBackend
from rft_trainer_gateway.settings import TrainerSettings
from rft_trainer_gateway.store import JobStore
from rft_trainer_gateway.supervisor import JobSupervisor, SupervisorMetrics
from tests.trainer_gateway.conftest import job, request_body


async def test_events_read_while_the_store_is_down_are_stored_once_it_is_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = TrainerSettings(data_dir=tmp_path, kafka_bootstrap=None)
    store = JobStore(settings.resolved_job_store())
    backend = LocalTrlBackend(module="tests.trainer_gateway.standin_worker",
                              extra_env={"STANDIN_STEP_S": "0.1"})
    supervisor = JobSupervisor(store, settings, {backend.name: backend},
                               metrics=SupervisorMetrics(CollectorRegistry()),
                               base_model=lambda name: name or "base")
    await supervisor.submit(job("ftjob-flaky"), TrainingJobRequest.model_validate(request_body()))
    real_append = store.append_events
    outages = [1, 2]  # the writes of the first two rounds that read a step fail

    def flaky_append(job_id: str, events: list[Any], *args: Any, **kwargs: Any) -> Any:
        if outages and any(e.kind == "step" for e in events):
            outages.pop()
            raise StoreUnavailable("PostgreSQL at ...: connection refused")
        return real_append(job_id, events, *args, **kwargs)

    monkeypatch.setattr(store, "append_events", flaky_append)
    deadline = time.monotonic() + 60
    while (stored := store.get("ftjob-flaky")) is None or not stored.status.finished:
        assert time.monotonic() < deadline, stored
        await supervisor.tick()  # a job whose round failed is logged and followed next round
        await asyncio.sleep(0.1)
    failed_rounds = [r for r in caplog.records if r.message.startswith("following a training")]
    assert len(failed_rounds) == 2 and stored.status is JobStatus.SUCCEEDED
    events = store.events("ftjob-flaky", limit=1000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.step for e in events if e.kind == "step"] == [1, 2, 3], "none lost, none twice"


async def test_a_job_whose_gateway_stopped_before_launching_it_is_restarted_and_says_so(
        tmp_path: Path) -> None:
    """In the store it is running and this replica's, but no process ever started and its
    directory was never written (the gateway died between the claim and the launch)."""
    settings = TrainerSettings(data_dir=tmp_path, kafka_bootstrap=None)
    store = JobStore(settings.resolved_job_store())
    store.create(job("ftjob-orphan"), TrainingJobRequest.model_validate(request_body()))
    store.claim("ftjob-orphan", settings.trainer_replica_id,
                lambda j: j.model_copy(update={"status": JobStatus.RUNNING}))
    backend = LocalTrlBackend(module="tests.trainer_gateway.standin_worker",
                              extra_env={"STANDIN_STEP_S": "0.05"})
    supervisor = JobSupervisor(store, settings, {backend.name: backend},
                               metrics=SupervisorMetrics(CollectorRegistry()))
    assert await supervisor.recover() == ["ftjob-orphan"]
    deadline = time.monotonic() + 60
    while (stored := store.get("ftjob-orphan")) is None or not stored.status.finished:
        assert time.monotonic() < deadline, stored
        await supervisor.tick()
        await asyncio.sleep(0.1)
    assert stored.status is JobStatus.SUCCEEDED and stored.attempts == 1
    notes = [e.message for e in store.events("ftjob-orphan", limit=100) if e.kind == "status"]
    assert notes[0] == ("restarted from the base model: the gateway stopped before the "
                        "training process started and no checkpoint was written yet")
