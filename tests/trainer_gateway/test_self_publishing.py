"""Jobs whose training pods publish their own events (the kubernetes backend): the gateway
consumes those into the job's log and publishes none of their events itself, so the topic has
each event once and the gateway never reads its own publications back."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from rft_schemas import (
    TrainingBackendName,
    TrainingEvent,
    TrainingEventKind,
    TrainingJobRequest,
)
from rft_trainer_gateway.backends.local import LocalTrlBackend
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.service import build_service, self_published_events_sink
from rft_trainer_gateway.settings import TrainerSettings
from rft_trainer_gateway.store import JobStore
from rft_trainer_gateway.supervisor import JobSupervisor, SupervisorMetrics
from tests.trainer_gateway.conftest import job, request_body

REQUEST = TrainingJobRequest.model_validate(request_body())


def step(job_id: str, seq: int) -> TrainingEvent:
    return TrainingEvent(job_id=job_id, seq=seq, kind=TrainingEventKind.STEP, step=seq)


def test_only_self_publishing_jobs_events_are_written_into_their_logs(tmp_path: Path) -> None:
    store = JobStore(str(tmp_path / "jobs.sqlite"))
    pod_job = job("ftjob-pod").model_copy(update={"backend": TrainingBackendName.KUBERNETES})
    local_job = job("ftjob-local")
    for created in (pod_job, local_job):
        store.create(created, REQUEST)
        (tmp_path / created.id).mkdir()
    deliver = self_published_events_sink(store, tmp_path)
    assert deliver(step("ftjob-pod", 1))
    assert not deliver(step("ftjob-pod", 1)), "a redelivery is dropped"
    assert not deliver(step("ftjob-local", 7)), "the gateway's own publication is dropped"
    assert not deliver(step("ftjob-unknown", 1))
    assert [e.seq for e in EventLog(JobFiles(tmp_path / "ftjob-pod").events).read()] == [1]
    assert EventLog(JobFiles(tmp_path / "ftjob-local").events).read() == []


async def test_the_gateway_publishes_no_event_of_a_self_publishing_job(tmp_path: Path) -> None:
    settings = TrainerSettings(data_dir=tmp_path, kafka_bootstrap=None)
    store = JobStore(settings.resolved_job_store())
    sent: list[str] = []

    async def publish(outputs: object) -> None:
        sent.extend(out.value.job_id for out in outputs)  # type: ignore[attr-defined]

    supervisor = JobSupervisor(store, settings, {}, publish=publish,
                               metrics=SupervisorMetrics(CollectorRegistry()))
    pod_job = job("ftjob-pod").model_copy(update={"backend": TrainingBackendName.KUBERNETES})
    await supervisor.submit(pod_job, REQUEST)
    await supervisor.submit(job("ftjob-local"), REQUEST)
    assert sent == ["ftjob-local"]
    assert store.unpublished(settings.trainer_replica_id) == []


def test_a_gateway_with_a_self_publishing_backend_and_a_broker_consumes_the_topic(
        tmp_path: Path) -> None:
    standin = LocalTrlBackend(module="tests.trainer_gateway.standin_worker")
    settings = TrainerSettings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:9")
    backends = {TrainingBackendName.TRL: standin, TrainingBackendName.KUBERNETES: standin}
    _, stages, _ = build_service(settings, backends=backends, registry=CollectorRegistry())
    assert [stage.name for stage in stages] == ["trainer-gateway"]
    _, none, _ = build_service(settings, backends={TrainingBackendName.TRL: standin},
                               registry=CollectorRegistry())
    assert none == []
