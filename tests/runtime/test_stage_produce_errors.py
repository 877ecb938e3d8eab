"""How the stage runner treats produce errors, with a scripted producer (no broker): retriable
ones are retried and dead-letter nothing; one that is the record's own becomes a rejection;
one that every record would meet stops the stage."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import (
    CorruptRecordException,
    KafkaConnectionError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from prometheus_client import CollectorRegistry

from rft_runtime.kafka.producing import send_each
from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound, ProduceError, TransientError
from rft_runtime.kafka.stage import _Output as StageOutput
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import REJECTED, TopicSpec
from rft_schemas.traces import RawTrace, Rejection, SourceLocation


class ScriptedProducer:
    """Answers each send from ``script[(topic, key)]``: a list of errors to raise (sync) or
    fail the future with, one per attempt; past the list, the send is acknowledged."""

    def __init__(self, script: dict[tuple[str, str], list[tuple[str, Exception]]]) -> None:
        self.script = script
        self.acked: list[tuple[str, str, bytes]] = []
        self.attempts: dict[tuple[str, str], int] = {}

    async def send(self, topic: str, value: bytes, key: bytes, headers: object) -> asyncio.Future:
        ident = (topic, key.decode())
        attempt = self.attempts.get(ident, 0)
        self.attempts[ident] = attempt + 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        plan = self.script.get(ident, [])
        if attempt < len(plan):
            how, error = plan[attempt]
            if how == "raise":
                raise error
            future.set_exception(error)
        else:
            self.acked.append((topic, key.decode(), value))
            future.set_result(None)
        return future


def record(offset: int, key: str) -> ConsumerRecord:
    value = RawTrace(id=key, dataset="d", source=SourceLocation(uri="t"), payload="p")
    return ConsumerRecord(
        topic="in", partition=0, offset=offset, timestamp=0, timestamp_type=0,
        key=key.encode(), value=value.model_dump_json().encode(), checksum=None,
        serialized_key_size=0, serialized_value_size=0, headers=(),
    )


def stage_with(producer: ScriptedProducer) -> KafkaStage[RawTrace]:
    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        return []

    stage: KafkaStage[RawTrace] = KafkaStage(
        "scripted", TopicSpec("in", RawTrace, ("t",), ("scripted",)), handle,
        RuntimeSettings(kafka_bootstrap="unused:9092"), registry=CollectorRegistry(),
        retry_backoff_s=0.01, max_backoff_s=0.02,
    )
    stage._producer = producer  # type: ignore[assignment]
    return stage


def outputs(*keys: str) -> list[StageOutput]:
    return [
        StageOutput(Outbound("out", k, RawTrace(id=k, dataset="d", source=SourceLocation(uri="t"),
                                                 payload="p")))
        for k in keys
    ]


async def test_retriable_produce_errors_are_retried_and_reject_nothing():
    producer = ScriptedProducer({
        ("out", "a"): [("fail", KafkaTimeoutError("broker unavailable"))] * 3,
        ("out", "b"): [("raise", KafkaConnectionError("connection refused"))],
    })
    stage = stage_with(producer)
    await stage._produce(outputs("a", "b", "c"), [record(0, "a")], asyncio.Event())
    assert sorted(k for t, k, _ in producer.acked) == ["a", "b", "c"]
    assert all(t == "out" for t, _, _ in producer.acked)
    assert producer.attempts[("out", "a")] == 4


async def test_stopping_while_the_broker_is_down_raises_and_rejects_nothing():
    producer = ScriptedProducer({("out", "a"): [("fail", KafkaTimeoutError("down"))] * 100})
    stop = asyncio.Event()
    stop.set()
    with pytest.raises(TransientError):
        await stage_with(producer)._produce(outputs("a"), [record(0, "a")], stop)
    assert not [t for t, _, _ in producer.acked if t == REJECTED.name]


async def test_a_non_retriable_error_of_one_record_becomes_a_processing_error_rejection():
    producer = ScriptedProducer({("out", "a"): [("fail", CorruptRecordException("bad crc"))]})
    await stage_with(producer)._produce(outputs("a", "b"), [record(7, "a")], asyncio.Event())
    delivered = {(t, k) for t, k, _ in producer.acked}
    assert ("out", "b") in delivered and ("out", "a") not in delivered
    [rejection] = [Rejection.model_validate_json(v) for t, _, v in producer.acked
                   if t == REJECTED.name]
    assert rejection.reason == "processing_error"
    assert (rejection.source.uri, rejection.source.offset) == ("in", 7)
    assert "CorruptRecordException" in rejection.detail and "output to out" in rejection.detail


async def test_an_output_of_an_unknown_record_is_rejected_naming_the_batch():
    producer = ScriptedProducer({("out", "z"): [("fail", CorruptRecordException("bad crc"))]})
    records = [record(3, "a"), record(4, "b")]
    await stage_with(producer)._produce(outputs("z"), records, asyncio.Event())
    [rejection] = [Rejection.model_validate_json(v) for t, _, v in producer.acked
                   if t == REJECTED.name]
    assert rejection.source.uri == "in" and rejection.source.offset is None
    assert "in[0]@3..4" in rejection.detail


async def test_an_error_every_record_would_meet_stops_the_stage_instead_of_dead_lettering():
    producer = ScriptedProducer({("out", "a"): [("fail", TopicAuthorizationFailedError())]})
    with pytest.raises(ProduceError, match="TopicAuthorizationFailedError"):
        await stage_with(producer)._produce(outputs("a"), [record(0, "a")], asyncio.Event())
    assert not [t for t, _, _ in producer.acked if t == REJECTED.name]


async def test_a_topic_whose_send_timed_out_is_not_waited_on_again_in_the_same_batch() -> None:
    """Each timed-out send blocks for the producer's request timeout (40 s by default): the
    rest of the batch's outputs to that topic take the same error instead of waiting theirs,
    while another topic's outputs are still sent."""
    timeout = KafkaTimeoutError()
    producer = ScriptedProducer({("out", "a"): [("raise", timeout)]})
    outputs = [Outbound(topic, key, Rejection(
        id=key, dataset="d", reason="invalid_json", detail="x", source=SourceLocation(uri="t")))
        for topic, key in [("out", "a"), ("out", "b"), ("other", "c"), ("out", "d")]]
    errors = await send_each(producer, outputs)  # type: ignore[arg-type]
    assert errors == [timeout, timeout, None, timeout]
    assert producer.attempts == {("out", "a"): 1, ("other", "c"): 1}
