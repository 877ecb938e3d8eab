"""Training events over Kafka: the worker publishes what it logged, the gateway writes what it
consumes into the job's event log once, whichever way the event reached it first."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.settings import RuntimeSettings
from rft_schemas import TrainingEvent, TrainingEventKind
from rft_trainer_gateway.event_sink import (
    append_to_job_log,
    publishing_sink,
    training_events_stage,
)
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles


def event(job_id: str, seq: int, step: int) -> TrainingEvent:
    return TrainingEvent(job_id=job_id, seq=seq, kind=TrainingEventKind.STEP, step=step,
                         total_steps=3, train_reward=0.1 * step)


def test_no_broker_configured_means_no_publishing_sink() -> None:
    assert publishing_sink(RuntimeSettings(kafka_bootstrap=None)) is None


def test_the_job_log_takes_each_seq_once_and_only_for_its_own_jobs(tmp_path: Path) -> None:
    (tmp_path / "job-a").mkdir()
    append = append_to_job_log(tmp_path)
    assert append(event("job-a", 1, 1)) and append(event("job-a", 2, 2))
    assert not append(event("job-a", 2, 2))  # delivered again
    assert not append(event("job-b", 1, 1))  # no such job here
    assert not append(event("../job-a", 3, 3))  # not one path component
    logged = EventLog(JobFiles(tmp_path / "job-a").events).read()
    assert [(e.seq, e.step) for e in logged] == [(1, 1), (2, 2)]


def test_an_event_the_worker_already_wrote_to_the_shared_volume_is_not_written_again(
    tmp_path: Path,
) -> None:
    worker_log = EventLog(JobFiles(tmp_path / "job-a").events)
    written = worker_log.append(event("job-a", 0, 1))  # the worker: log first, publish second
    assert not append_to_job_log(tmp_path)(written)
    assert len(worker_log.read()) == 1


def test_a_broker_that_is_down_never_stops_training() -> None:
    # a closed loopback port: the producer cannot start; the call reports it and returns
    sink = publishing_sink(RuntimeSettings(kafka_bootstrap="127.0.0.1:9"))
    assert sink is not None
    sink.timeout_s = 2.0
    try:
        assert sink(event("job-a", 1, 1)) is False
        assert sink.failed == 1 and sink.published == 0
    finally:
        sink.close()


@pytest.mark.broker
async def test_events_published_by_the_worker_reach_the_job_log_through_the_topic(
    kafka_broker: LocalBroker, tmp_path: Path
) -> None:
    topic = f"rft.training.events.test.{uuid.uuid4().hex[:8]}"
    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=2,
                               kafka_batch_timeout_ms=100)
    (tmp_path / "job-a").mkdir()
    # the worker side runs in its own thread with its own loop, as in the training process
    publisher = publishing_sink(settings)
    assert publisher is not None
    publisher.topic = topic

    def publish_all() -> list[bool]:
        sent = [publisher(event("job-a", seq, seq)) for seq in (1, 2, 3)]
        sent.append(publisher(event("job-a", 2, 2)))  # at-least-once: a redelivery
        return sent

    try:
        assert await asyncio.to_thread(publish_all) == [True] * 4
    finally:
        await asyncio.to_thread(publisher.close)

    stage = training_events_stage(settings, append_to_job_log(tmp_path), topic=topic,
                                  group_id=f"rft-trainer-gateway-{uuid.uuid4().hex[:6]}",
                                  registry=CollectorRegistry())
    stop = asyncio.Event()
    running = asyncio.create_task(stage.run(stop))
    log = EventLog(JobFiles(tmp_path / "job-a").events)
    deadline = time.monotonic() + 60
    try:
        while stage.batches_committed == 0 or len(log.read()) < 3:
            assert time.monotonic() < deadline, f"only {len(log.read())} events arrived"
            assert not running.done(), running.exception()
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running, timeout=30)
    assert [(e.seq, e.step) for e in log.read()] == [(1, 1), (2, 2), (3, 3)]
