"""The Kafka stage runner: consume in a group, hand batches to a handler, produce, then commit.

Delivery is at-least-once: offsets are committed only after every output of the batch is
acknowledged by the broker (acks=all). A crash between produce and commit re-delivers the batch;
outputs carry stable keys, so sinks that upsert by key end up identical.

A record the stage cannot process goes to the rejected topic with its reason and the batch goes
on: a batch the handler fails on is split in halves until the failing records are alone. An
infrastructure failure is retried with backoff and never dead-letters a record: the handler
raises :class:`TransientError`, or one of :data:`OUTAGES` (a SQL store or an LLM endpoint that
cannot be reached now), which every stage's handler turns into one, whatever its service.

An output the broker cannot take (larger than a request may be, say) is replaced by a rejection
naming the record it came from, and the batch goes on; a retriable produce error (broker
unavailable) is retried with backoff, and dead-letters nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
    ProducerClosed,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedVersionError,
)
from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import BaseModel, ValidationError

from rft_runtime.kafka.clients import make_consumer, make_producer
from rft_runtime.kafka.producing import Outbound, encode, is_retriable, send_each
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.llm.client import LLMUnavailableError
from rft_runtime.metrics import StageMetrics, stage_metrics
from rft_runtime.settings import RuntimeSettings
from rft_runtime.sql import StoreUnavailable
from rft_schemas.kafka_topics import REJECTED, TopicSpec
from rft_schemas.traces import Rejection, RejectionReason, SourceLocation

__all__ = [
    "OUTAGES",
    "Handler",
    "Inbound",
    "KafkaStage",
    "Outbound",
    "ProduceError",
    "TransientError",
    "rejection_for",
]

log = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)

EXCERPT_CHARS = 500


class TransientError(Exception):
    """An infrastructure failure (store or service down): retry the batch, reject nothing."""


OUTAGES: tuple[tuple[type[Exception], str], ...] = (
    (StoreUnavailable, "store"),
    (LLMUnavailableError, "LLM endpoint"),
)
"""Errors that say a dependency is down, not that the record is bad, each with what is down: a
handler raising one is retried as a :class:`TransientError` (the store reconnects on its next
use, the endpoint is asked again), in every stage. Sinks are idempotent, so a batch retried
after part of it was written ends up the same."""


class ProduceError(RuntimeError):
    """Outputs could not be produced for a reason that is not the record's own (the stage may
    not write the topic, the producer is closed): the stage stops, and commits nothing."""


SIZE_ERRORS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
"""The output is larger than the producer or the broker accepts: rejected as too_large."""

NOT_THE_RECORDS_FAULT: tuple[type[KafkaError], ...] = (
    TopicAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedVersionError,
    IllegalStateError,
    ProducerClosed,
)
"""Non-retriable errors every output would meet: dead-lettering would reject them all, so the
stage fails instead (and the service exits non-zero)."""


@dataclass(frozen=True)
class _Output:
    """An output of a batch, with the consumed record it was made from when that is known."""

    out: Outbound
    origin: ConsumerRecord[bytes, bytes] | None = None
    replaces: bool = False
    """A rejection standing in for an output that could not be produced."""


@dataclass(frozen=True)
class Inbound(Generic[T]):
    """One consumed record, decoded into its topic's contract."""

    value: T
    key: str | None
    topic: str
    partition: int
    offset: int

    def location(self) -> SourceLocation:
        return SourceLocation(uri=self.topic, partition=self.partition, offset=self.offset)


Handler = Callable[[Sequence[Inbound[T]]], Awaitable[Sequence[Outbound]]]
Decoder = Callable[[ConsumerRecord[bytes, bytes]], T]
"""Turns a consumed record into the handler's T; raises ValidationError or ValueError for a
record that is not one (it then goes to the rejected topic as invalid_record)."""


def _outages_as_transient(handler: Handler[T]) -> Handler[T]:
    """``handler``, raising :class:`TransientError` for an outage (:data:`OUTAGES`): the one
    place a stage tells a dependency that is down from a record it cannot process."""

    async def handle(batch: Sequence[Inbound[T]]) -> Sequence[Outbound]:
        try:
            return await handler(batch)
        except Exception as error:
            down = next((what for kind, what in OUTAGES if isinstance(error, kind)), None)
            if down is None:
                raise
            raise TransientError(f"{down}: {error}") from error

    return handle


def _excerpt_of(raw: bytes) -> str:
    """The start of a record as a rejection shows it (UTF-8 read leniently)."""
    return raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def rejection_for(
    record: ConsumerRecord[bytes, bytes], stage: str, reason: RejectionReason, detail: str
) -> Rejection:
    raw = record.value or b""
    dataset = "unknown"
    try:
        parsed = json.loads(raw)
        if isinstance(parsed, dict) and isinstance(parsed.get("dataset"), str):
            dataset = parsed["dataset"]
    except ValueError:
        pass
    digest = hashlib.sha256(
        b"%s|%s|%d|%d" % (stage.encode(), record.topic.encode(), record.partition, record.offset)
    ).hexdigest()[:32]
    return Rejection(
        id=f"rej-{digest}",
        dataset=dataset,
        stage=stage,
        reason=reason,
        detail=detail[:2000],
        source=SourceLocation(uri=record.topic, partition=record.partition, offset=record.offset),
        excerpt=_excerpt_of(raw),
        trace_id=record.key.decode("utf-8", errors="replace") if record.key else None,
    )


class KafkaStage(Generic[T]):
    """Runs one stage: ``handler`` turns a batch of ``source`` records into outputs."""

    def __init__(
        self,
        name: str,
        source: TopicSpec,
        handler: Handler[T],
        settings: RuntimeSettings,
        *,
        outputs: Sequence[TopicSpec] = (),
        group_id: str | None = None,
        registry: CollectorRegistry = REGISTRY,
        retry_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        decode: Decoder[T] | None = None,
    ) -> None:
        """``decode``: for a topic that also carries records written by others (an exporter
        writing OTLP JSON to the raw-traces topic); default: the topic's contract."""
        self.name = name
        self.source = source
        self.handler = _outages_as_transient(handler)
        self.decode = decode
        self.settings = settings
        self.outputs = tuple(outputs)
        self.group_id = group_id or f"rft-{name}"
        self.metrics: StageMetrics = stage_metrics(registry)
        self.retry_backoff_s = retry_backoff_s
        self.max_backoff_s = max_backoff_s
        self.running = False
        self.batches_committed = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lag_partitions: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer else set()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in flight is finished and committed first."""
        topics = {self.source.name, REJECTED.name, *(spec.name for spec in self.outputs)}
        await ensure_topics(self.settings, topics)
        self._producer = make_producer(self.settings)
        self._consumer = make_consumer(self.settings, self.group_id, self.source.name)
        await self._producer.start()
        await self._consumer.start()
        self.running = True
        try:
            while not stop.is_set():
                batch = await self._consumer.getmany(
                    timeout_ms=self.settings.kafka_batch_timeout_ms,
                    max_records=self.settings.kafka_batch_max_records,
                )
                if batch:
                    await self._process_and_commit(batch, stop)
                await self._update_lag()
        finally:
            self.running = False
            # a stopped stage holds no partitions: its lag series go with it
            self._forget_lag(set(self._lag_partitions))
            await self._consumer.stop()
            await self._producer.stop()

    async def _process_and_commit(
        self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]], stop: asyncio.Event
    ) -> None:
        records = [r for part in batch.values() for r in part]
        self.metrics.records_in.labels(self.name).inc(len(records))
        outputs = await self._outputs_for(records, stop)
        await self._produce(outputs, records, stop)
        offsets = {tp: part[-1].offset + 1 for tp, part in batch.items() if part}
        assert self._consumer is not None
        try:
            await self._consumer.commit(offsets)
            self.batches_committed += 1
            self.metrics.batches.labels(self.name).inc()
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under us: the new owner re-reads from the last commit, and
            # the stable keys make the re-produced outputs harmless.
            log.warning("commit refused after rebalance", extra={"error": str(exc)})

    async def _outputs_for(
        self, records: list[ConsumerRecord[bytes, bytes]], stop: asyncio.Event
    ) -> list[_Output]:
        decoded: list[tuple[Inbound[T], ConsumerRecord[bytes, bytes]]] = []
        outputs: list[_Output] = []
        for record in records:
            try:
                if self.decode is not None:
                    value = self.decode(record)
                else:
                    # The topic's contract is the handler's T: the spec names the model.
                    value = cast(T, self.source.payload.model_validate_json(record.value or b""))
            except (ValidationError, ValueError) as exc:
                rejected = self._reject(record, RejectionReason.INVALID_RECORD, str(exc))
                outputs.append(_Output(rejected, record))
                continue
            key = record.key.decode("utf-8", errors="replace") if record.key else None
            inbound = Inbound(value, key, record.topic, record.partition, record.offset)
            decoded.append((inbound, record))
        if decoded:
            outputs.extend(await self._handle_isolating_poison(decoded, stop))
        return outputs

    async def _handle_isolating_poison(
        self,
        batch: list[tuple[Inbound[T], ConsumerRecord[bytes, bytes]]],
        stop: asyncio.Event,
    ) -> list[_Output]:
        """``batch``: each decoded record with the consumed record it came from."""
        decoded = [inbound for inbound, _ in batch]
        # The handler's outputs come from the one record it was given, or from the batch.
        origin = batch[0][1] if len(batch) == 1 else None
        try:
            return [_Output(out, origin) for out in await self._call_with_retry(decoded, stop)]
        except TransientError:
            raise
        except Exception as batch_error:
            if origin is not None:
                detail = f"{type(batch_error).__name__}: {batch_error}"
                rejected = self._reject(origin, RejectionReason.PROCESSING_ERROR, detail)
                return [_Output(rejected, origin)]
        # Some record in the batch breaks the handler: split it in halves until each poison
        # record is alone, so only it is lost. A handler call may be an embedding or LLM call:
        # k poison records in n cost at most 1 + 2·k·ceil(log2 n) calls, not n (19, not 500,
        # for one in 500).
        middle = len(batch) // 2
        return [
            *await self._handle_isolating_poison(batch[:middle], stop),
            *await self._handle_isolating_poison(batch[middle:], stop),
        ]

    async def _call_with_retry(
        self, decoded: list[Inbound[T]], stop: asyncio.Event
    ) -> Sequence[Outbound]:
        backoff = self.retry_backoff_s
        while True:
            began = time.perf_counter()
            try:
                return await self.handler(decoded)
            except TransientError as exc:
                log.warning("transient failure, retrying batch", extra={"error": str(exc)})
                if stop.is_set():
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            finally:
                self.metrics.handler_seconds.labels(self.name).observe(time.perf_counter() - began)

    def _reject(
        self, record: ConsumerRecord[bytes, bytes], reason: RejectionReason, detail: str
    ) -> Outbound:
        rejection = rejection_for(record, self.name, reason, detail)
        return Outbound(REJECTED.name, rejection.id, rejection)

    async def _produce(
        self,
        outputs: list[_Output],
        records: list[ConsumerRecord[bytes, bytes]],
        stop: asyncio.Event,
    ) -> None:
        """Produce every output, acknowledged. One the broker cannot take is replaced by a
        rejection; one that met a retriable error is sent again after a backoff."""
        assert self._producer is not None
        backoff = self.retry_backoff_s
        pending = outputs
        while pending:
            errors = await send_each(self._producer, [item.out for item in pending])
            retry: list[_Output] = []
            replacements: list[_Output] = []
            for item, error in zip(pending, errors, strict=True):
                if error is None:
                    self._count_produced(item.out)
                elif is_retriable(error):
                    retry.append(item)
                elif item.replaces or isinstance(error, NOT_THE_RECORDS_FAULT):
                    raise ProduceError(
                        f"stage {self.name}: cannot produce to {item.out.topic}: "
                        f"{type(error).__name__}: {error}"
                    ) from error
                else:
                    replacements.append(self._undeliverable(item, error, records))
            if retry:
                first = next(e for e in errors if e is not None and is_retriable(e))
                log.warning(
                    "produce failed, retrying",
                    extra={"stage": self.name, "outputs": len(retry), "error": str(first)},
                )
                if stop.is_set():
                    raise TransientError(f"stopping with outputs unproduced: {first}") from first
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
            pending = replacements + retry

    def _count_produced(self, out: Outbound) -> None:
        self.metrics.records_out.labels(self.name, out.topic).inc()
        if isinstance(out.value, Rejection):
            self.metrics.records_rejected.labels(self.name, out.value.reason.value).inc()

    def _origin_of(
        self, item: _Output, records: list[ConsumerRecord[bytes, bytes]]
    ) -> ConsumerRecord[bytes, bytes] | None:
        """The consumed record an output was made from: the one the handler was given, the
        one the output names (``Outbound.source``), or the only one with the output's key."""
        if item.origin is not None:
            return item.origin
        named = item.out.source
        if named is not None and named.offset is not None:
            for record in records:
                if (record.topic, record.partition, record.offset) == (
                    named.uri, named.partition, named.offset,
                ):
                    return record
        key = item.out.key.encode("utf-8")
        same_key = [r for r in records if r.key == key]
        return same_key[0] if len(same_key) == 1 else None

    def _undeliverable(
        self, item: _Output, error: Exception, records: list[ConsumerRecord[bytes, bytes]]
    ) -> _Output:
        """The rejection that stands in for an output the broker will never take."""
        out = item.out
        reason = (
            RejectionReason.TOO_LARGE
            if isinstance(error, SIZE_ERRORS)
            else RejectionReason.PROCESSING_ERROR
        )
        try:
            body = encode(out.value)
            size = f"{len(body)} bytes"
        except ValueError:
            body, size = b"", "unserializable"
        detail = (
            f"output to {out.topic} (key {out.key}, {size}) could not be produced: "
            f"{type(error).__name__}: {error}"
        )
        origin = self._origin_of(item, records)
        if origin is not None:
            rejection = rejection_for(origin, self.name, reason, detail)
        else:
            spans = _batch_spans(records)
            dataset = getattr(out.value, "dataset", None)
            rejection = Rejection(
                id="",
                dataset=dataset if isinstance(dataset, str) else "unknown",
                stage=self.name,
                reason=reason,
                detail=f"{detail}; made from one of the batch's records: {spans}"[:2000],
                source=out.source or SourceLocation(uri=self.source.name),
                excerpt=_excerpt_of(body),
            )
        # one rejection per output (a record may have several), stable across re-deliveries
        where = rejection.source
        digest = hashlib.sha256(
            f"{self.name}|{where.uri}|{where.partition}|{where.offset}|{out.topic}|{out.key}"
            .encode()
        ).hexdigest()[:32]
        rejection = rejection.model_copy(update={"id": f"rej-{digest}"})
        log.warning(
            "output rejected: cannot be produced",
            extra={
                "stage": self.name,
                "topic": out.topic,
                "key": out.key,
                "reason": reason.value,
                "source": where.describe(),
                "error": str(error),
            },
        )
        return _Output(Outbound(REJECTED.name, rejection.id, rejection), origin, replaces=True)

    async def _update_lag(self) -> None:
        if self._consumer is None:
            return
        assigned = set(self._consumer.assignment())
        # Partitions a rebalance took away: their lag is now another consumer's to report.
        self._forget_lag(self._lag_partitions - assigned)
        for tp in assigned:
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except (KafkaError, IllegalStateError):
                continue
            self.metrics.consumer_lag.labels(self.name, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )
            self._lag_partitions.add(tp)

    def _forget_lag(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(self.name, tp.topic, str(tp.partition))
        self._lag_partitions -= partitions


def _batch_spans(records: list[ConsumerRecord[bytes, bytes]]) -> str:
    """``topic[partition]@first..last`` for each partition of a batch."""
    spans: dict[tuple[str, int], list[int]] = {}
    for record in records:
        spans.setdefault((record.topic, record.partition), []).append(record.offset)
    return ", ".join(
        f"{topic}[{partition}]@{min(offsets)}..{max(offsets)}"
        for (topic, partition), offsets in sorted(spans.items())
    )
