"""An output the broker cannot take (larger than a produce request may be) becomes a rejection
naming its source record, and the batch is committed: the partition is not blocked."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import REJECTED, TopicSpec
from rft_schemas.traces import RawTrace, SourceLocation
from tests.integration.echo_stage import digest
from tests.integration.kafka_io import produce, read_topic, unique

pytestmark = pytest.mark.broker

BIG = 2 * 1024 * 1024  # twice aiokafka's default max_request_size


def trace(i: int, payload: str) -> RawTrace:
    return RawTrace(
        id=f"trace-{i}", dataset="oversize", source=SourceLocation(uri="test", line=i),
        payload=payload,
    )


async def committed_offset(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


async def test_oversized_output_is_rejected_and_the_batch_committed(kafka_broker):
    source, sink, big_sink = unique("in"), unique("out"), unique("big")
    group, stage_name = unique("oversize"), unique("oversize")
    settings = RuntimeSettings(
        kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=1, kafka_batch_max_records=200
    )
    await ensure_topics(settings, [source, sink, big_sink, REJECTED.name])
    inputs = [trace(0, "small"), trace(1, "big"), trace(2, "big, named")]
    await produce(kafka_broker.bootstrap, source,
                  [(t.id, t.model_dump_json().encode()) for t in inputs])

    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        outputs = []
        for item in batch:
            outputs.append(Outbound(sink, item.value.id, digest(item.value)))
            huge = item.value.model_copy(update={"payload": "x" * BIG})
            if item.value.payload == "big":
                # same key as its input: the stage finds the source record by key
                outputs.append(Outbound(big_sink, item.value.id, huge))
            elif item.value.payload == "big, named":
                outputs.append(Outbound(big_sink, "blob-2", huge, source=item.location()))
        return outputs

    stage = KafkaStage(
        stage_name, TopicSpec(source, RawTrace, ("tests",), ("oversize",)), handle, settings,
        outputs=[TopicSpec(sink, RawTrace, ("oversize",), ("tests",)),
                 TopicSpec(big_sink, RawTrace, ("oversize",), ("tests",))],
        group_id=group,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(stage.run(stop))
    tp = TopicPartition(source, 0)
    try:
        out = await read_topic(kafka_broker.bootstrap, sink, lambda r: len(r) >= 3, 30)

        def mine(records):
            found = [json.loads(v) for _, v in records]
            return [r for r in found if r["stage"] == stage_name]

        rejected = mine(await read_topic(
            kafka_broker.bootstrap, REJECTED.name, lambda r: len(mine(r)) >= 2, 30
        ))
        deadline = time.monotonic() + 30
        while await committed_offset(kafka_broker.bootstrap, group, tp) != 3:
            assert not task.done(), f"the stage died: {task.exception()!r}"
            assert time.monotonic() < deadline, "the batch was never committed"
            await asyncio.sleep(0.2)
        assert not task.done(), "the stage must go on after rejecting an output"
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)  # ends cleanly: raises if the stage failed

    assert {k: v for k, v in out} == {
        t.id: digest(t).model_dump_json().encode() for t in inputs
    }
    by_offset = {r["source"]["offset"]: r for r in rejected}
    assert sorted(by_offset) == [1, 2]
    for offset, rejection in by_offset.items():
        assert rejection["reason"] == "too_large"
        where = rejection["source"]
        assert (where["uri"], where["partition"], where["offset"]) == (source, 0, offset)
        assert rejection["trace_id"] == f"trace-{offset}"
        assert big_sink in rejection["detail"]
        assert "MessageSizeTooLargeError" in rejection["detail"]
        size = int(rejection["detail"].split(" bytes")[0].rsplit(" ", 1)[1])
        assert size > BIG
    assert "key trace-1" in by_offset[1]["detail"]
    assert "key blob-2" in by_offset[2]["detail"]
    assert stage.metrics.records_rejected.labels(stage_name, "too_large")._value.get() == 2

    # a new consumer of the group starts after the batch: the big record is not seen again
    again = AIOKafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, group_id=group,
                             enable_auto_commit=False)
    await again.start()
    try:
        again.assign([tp])
        assert await again.position(tp) == 3
        assert not await again.getmany(timeout_ms=1000)
    finally:
        await again.stop()
