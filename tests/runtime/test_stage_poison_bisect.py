"""The stage runner's poison path, with an in-memory producer and consumer (no broker): a batch
the handler fails on is split in halves until each failing record is alone, so a poison record
in a large batch costs a few handler calls (each may be an embedding or LLM call), not one per
record, and every good record's output is still produced exactly once."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Sequence

from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import REJECTED, TopicSpec
from rft_schemas.traces import RawTrace, Rejection, SourceLocation


class RecordingProducer:
    """Acknowledges every send and keeps what was sent."""

    def __init__(self) -> None:
        self.acked: list[tuple[str, str, bytes]] = []

    async def send(self, topic: str, value: bytes, key: bytes, headers: object) -> asyncio.Future:
        self.acked.append((topic, key.decode(), value))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class RecordingConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


def consumed(offset: int, payload: str) -> ConsumerRecord:
    key = f"t{offset}"
    value = RawTrace(id=key, dataset="d", source=SourceLocation(uri="t"), payload=payload)
    return ConsumerRecord(
        topic="in", partition=0, offset=offset, timestamp=0, timestamp_type=0,
        key=key.encode(), value=value.model_dump_json().encode(), checksum=None,
        serialized_key_size=0, serialized_value_size=0, headers=(),
    )


class PoisonSensitiveHandler:
    """Echoes each record to ``out``; a batch holding a ``poison`` record fails as a whole, as
    a batched model call does when one input breaks it. Counts its calls and their sizes."""

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    async def __call__(self, batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        self.batch_sizes.append(len(batch))
        for item in batch:
            if item.value.payload == "poison":
                raise ValueError(f"model cannot embed {item.value.id}")
        return [Outbound("out", item.value.id, item.value) for item in batch]


async def process(
    records: list[ConsumerRecord],
) -> tuple[PoisonSensitiveHandler, RecordingProducer, RecordingConsumer]:
    """Runs one consumed batch through the stage: handle, produce, commit."""
    handler = PoisonSensitiveHandler()
    stage: KafkaStage[RawTrace] = KafkaStage(
        "bisect", TopicSpec("in", RawTrace, ("t",), ("bisect",)), handler,
        RuntimeSettings(kafka_bootstrap="unused:9092"), registry=CollectorRegistry(),
    )
    producer, consumer = RecordingProducer(), RecordingConsumer()
    stage._producer = producer  # type: ignore[assignment]
    stage._consumer = consumer  # type: ignore[assignment]
    await stage._process_and_commit({TopicPartition("in", 0): records}, asyncio.Event())
    return handler, producer, consumer


def delivered(producer: RecordingProducer) -> Counter[str]:
    return Counter(key for topic, key, _ in producer.acked if topic == "out")


def rejections(producer: RecordingProducer) -> list[Rejection]:
    return [Rejection.model_validate_json(v) for t, _, v in producer.acked if t == REJECTED.name]


async def test_one_poison_record_in_500_costs_about_2_log2_n_handler_calls_not_500():
    n, poison_at = 500, 317
    records = [consumed(i, "poison" if i == poison_at else f"p{i}") for i in range(n)]
    handler, producer, consumer = await process(records)

    calls = len(handler.batch_sizes)
    bound = 1 + 2 * math.ceil(math.log2(n))
    print(f"handler calls for 1 poison in {n}: {calls} (one-at-a-time would take {n + 1})")
    assert calls <= bound == 19
    assert handler.batch_sizes[0] == n
    assert sum(size == 1 for size in handler.batch_sizes) == 2  # the poison and its sibling

    good = {f"t{i}" for i in range(n) if i != poison_at}
    assert delivered(producer) == Counter({key: 1 for key in good})
    [rejection] = rejections(producer)
    assert rejection.reason == "processing_error"
    assert rejection.trace_id == f"t{poison_at}"
    assert (rejection.source.uri, rejection.source.offset) == ("in", poison_at)
    assert rejection.detail == f"ValueError: model cannot embed t{poison_at}"
    assert consumer.commits == [{TopicPartition("in", 0): n}]


async def test_several_poison_records_are_each_isolated_and_the_rest_delivered_once():
    n, poisoned = 500, {0, 250, 499}
    records = [consumed(i, "poison" if i in poisoned else f"p{i}") for i in range(n)]
    handler, producer, _ = await process(records)

    assert len(handler.batch_sizes) <= 1 + 2 * len(poisoned) * math.ceil(math.log2(n))
    assert delivered(producer) == Counter({f"t{i}": 1 for i in range(n) if i not in poisoned})
    assert sorted(r.source.offset for r in rejections(producer)) == sorted(poisoned)
    assert {r.reason for r in rejections(producer)} == {"processing_error"}


async def test_a_batch_of_only_poison_rejects_every_record_with_its_own_reason():
    records = [consumed(i, "poison") for i in range(5)]
    handler, producer, consumer = await process(records)

    assert not delivered(producer)
    assert sorted((r.source.offset, r.detail) for r in rejections(producer)) == [
        (i, f"ValueError: model cannot embed t{i}") for i in range(5)
    ]
    assert sum(size == 1 for size in handler.batch_sizes) == 5
    assert consumer.commits == [{TopicPartition("in", 0): 5}]


async def test_a_clean_batch_is_one_handler_call():
    records = [consumed(i, f"p{i}") for i in range(500)]
    handler, producer, _ = await process(records)
    assert handler.batch_sizes == [500]
    assert delivered(producer) == Counter({f"t{i}": 1 for i in range(500)})
    assert not rejections(producer)
