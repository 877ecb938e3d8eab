"""Training events over Kafka (``rft.training.events.v1``, key = the job id).

Two sides:
- the training worker's: :func:`publishing_sink` gives a callable that publishes each event it
  has appended to its job's event log (the log stays the record; the topic is how a gateway, a
  dashboard, or anything else sees a run that trains in a pod, live);
- the gateway's: :func:`training_events_stage` consumes the topic and hands each event to a
  sink such as :func:`append_to_job_log`, which writes it into the job's event log unless the
  log already has it (same ``seq``): the worker writes first and publishes second, so an event
  whose job directory is on a volume the gateway shares is never written twice, and a
  redelivered one (at-least-once) is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import REGISTRY, CollectorRegistry

from rft_runtime.kafka.clients import make_producer
from rft_runtime.kafka.producing import Outbound, send_all
from rft_runtime.kafka.stage import Inbound, KafkaStage
from rft_runtime.kafka.topics import TopicCreationError, ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas import TrainingEvent
from rft_schemas.kafka_topics import TRAINING_EVENTS, TopicSpec
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles

log = logging.getLogger(__name__)

CONSUMER_GROUP = "rft-trainer-gateway"


class EventPublisher:
    """Publishes :class:`TrainingEvent`s from synchronous code (the training loop).

    aiokafka is asynchronous: a private event loop in a daemon thread owns the producer, and
    each call waits for the broker's acknowledgement up to ``timeout_s``. A broker that is down
    never stops training: the call logs, returns False and the next call tries again (the event
    is in the job's event log either way)."""

    def __init__(self, settings: RuntimeSettings, topic: str = TRAINING_EVENTS.name,
                 timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.topic = topic
        self.timeout_s = timeout_s
        self.published = 0
        self.failed = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="training-events", daemon=True)
        self._thread.start()
        self._producer: AIOKafkaProducer | None = None

    def __call__(self, event: TrainingEvent) -> bool:
        future: Future[None] = asyncio.run_coroutine_threadsafe(self._send(event), self._loop)
        try:
            future.result(timeout=self.timeout_s)
        except (KafkaError, TopicCreationError, OSError, FutureTimeout) as exc:
            future.cancel()
            self.failed += 1
            log.warning("training event not published", extra={
                "job_id": event.job_id, "seq": event.seq, "error": repr(exc)})
            return False
        self.published += 1
        return True

    async def _send(self, event: TrainingEvent) -> None:
        if self._producer is None:
            await ensure_topics(self.settings, [self.topic], timeout_s=self.timeout_s)
            producer = make_producer(self.settings)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        await send_all(self._producer, [Outbound(self.topic, event.job_id, event)])

    def close(self) -> None:
        """Flush and stop the producer, then the loop (idempotent)."""
        if self._loop.is_closed():
            return
        if self._producer is not None:
            stopping = asyncio.run_coroutine_threadsafe(self._producer.stop(), self._loop)
            try:
                stopping.result(timeout=self.timeout_s)
            except (KafkaError, FutureTimeout) as exc:
                log.warning("event producer did not stop cleanly", extra={"error": repr(exc)})
            self._producer = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self.timeout_s)
        self._loop.close()

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def publishing_sink(settings: RuntimeSettings) -> EventPublisher | None:
    """What the worker calls with each event it appended to its log; None when no broker is
    configured (``RFT_KAFKA_BOOTSTRAP`` unset: `rft train` on one machine)."""
    return EventPublisher(settings) if settings.kafka_bootstrap else None


# --- the gateway's side ----------------------------------------------------------------------


def _job_dir(jobs_dir: Path, job_id: str) -> Path | None:
    """The job's directory, if ``job_id`` is one path component naming an existing job."""
    if not job_id or job_id in (".", "..") or Path(job_id).name != job_id:
        return None
    root = jobs_dir / job_id
    return root if root.is_dir() else None


def append_to_job_log(jobs_dir: Path) -> Callable[[TrainingEvent], bool]:
    """A sink writing each event into ``<jobs_dir>/<job id>/training_events.jsonl``.

    Returns False for an event it drops: its job is not one of this gateway's (no directory),
    or the log already holds its ``seq`` (the worker wrote it to a shared volume itself, or the
    topic delivered it again). The log numbers what it appends after its last event, so a
    ``seq`` the worker skipped (a publish that failed) shifts the numbering by one."""

    def append(event: TrainingEvent) -> bool:
        root = _job_dir(jobs_dir, event.job_id)
        if root is None:
            return False
        events = EventLog(JobFiles(root).events)
        last = events.last()
        if last is not None and event.seq <= last.seq:
            return False
        events.append(event)
        return True

    return append


def training_events_stage(
    settings: RuntimeSettings,
    deliver: Callable[[TrainingEvent], object],
    *,
    topic: str = TRAINING_EVENTS.name,
    group_id: str = CONSUMER_GROUP,
    registry: CollectorRegistry = REGISTRY,
) -> KafkaStage[TrainingEvent]:
    """The gateway's consumer of training events, on the runtime's stage runner (offsets
    committed after ``deliver`` returns; a record that is not a TrainingEvent goes to the
    rejected topic). Run it with ``await stage.run(stop_event)``."""

    async def handle(batch: Sequence[Inbound[TrainingEvent]]) -> list[Outbound]:
        for inbound in batch:
            # file appends: quick, and in partition order (one job's events stay ordered)
            deliver(inbound.value)
        return []

    source = TopicSpec(topic, TrainingEvent, TRAINING_EVENTS.producers, TRAINING_EVENTS.consumers)
    return KafkaStage("trainer-gateway", source, handle, settings,
                      group_id=group_id, registry=registry)
