"""Delivery guarantees of the Kafka stage runner, against the real Tansu broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas.traces import RawTrace, SourceLocation
from tests.integration.echo_stage import build_stage, digest
from tests.integration.kafka_io import produce, read_topic, unique, wait_until

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]


def trace(i: int, payload: str | None = None) -> RawTrace:
    return RawTrace(
        id=f"trace-{i:05d}",
        dataset="delivery",
        source=SourceLocation(uri="test", line=i),
        payload=payload if payload is not None else f"record number {i}",
    )


def settings_for(broker: LocalBroker) -> RuntimeSettings:
    return RuntimeSettings(
        kafka_bootstrap=broker.bootstrap, kafka_partitions=4, kafka_batch_max_records=200
    )


def start_stage_process(broker: LocalBroker, source: str, sink: str, group: str, slow: float):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.echo_stage", broker.bootstrap, source, sink,
         group, "--slow", str(slow)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


async def test_sigkilled_consumer_restarts_with_nothing_lost_and_same_sink(kafka_broker):
    source, clean_sink, crash_sink = unique("in"), unique("clean"), unique("crash")
    settings = settings_for(kafka_broker)
    await ensure_topics(settings, [source, clean_sink, crash_sink])
    inputs = [trace(i) for i in range(10_000)]
    await produce(
        kafka_broker.bootstrap, source, ((t.id, t.model_dump_json().encode()) for t in inputs)
    )
    expected_ids = {t.id for t in inputs}

    def has_all(records):
        return {k for k, _ in records} >= expected_ids

    clean = start_stage_process(kafka_broker, source, clean_sink, unique("clean"), 0.0)
    try:
        clean_out = await read_topic(kafka_broker.bootstrap, clean_sink, has_all, 120)
    finally:
        clean.terminate()
        clean.wait(timeout=30)

    group = unique("crash")
    victim = start_stage_process(kafka_broker, source, crash_sink, group, 0.05)
    await read_topic(kafka_broker.bootstrap, crash_sink, lambda r: len(r) >= 2_000, 120)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    partial = await read_topic(kafka_broker.bootstrap, crash_sink, lambda r: True, 10)
    assert len({k for k, _ in partial}) < len(expected_ids), "kill came after the run ended"

    survivor = start_stage_process(kafka_broker, source, crash_sink, group, 0.0)
    try:
        crash_out = await read_topic(kafka_broker.bootstrap, crash_sink, has_all, 180)
    finally:
        survivor.terminate()
        survivor.wait(timeout=30)

    assert {k for k, _ in crash_out} == expected_ids
    # The sink upserts by key: its end state after the crash equals the clean run's.
    assert dict(crash_out) == dict(clean_out)
    assert set(dict(clean_out).values()) == {digest(t).model_dump_json().encode() for t in inputs}


async def test_poison_record_is_rejected_with_reason_and_batch_goes_on(kafka_broker):
    source, sink = unique("in"), unique("out")
    settings = settings_for(kafka_broker)
    await ensure_topics(settings, [source, sink, "rft.traces.rejected.v1"])
    good = [trace(i) for i in range(20)]
    poison = trace(99, payload="poison")
    records = [(t.id, t.model_dump_json().encode()) for t in good[:10]]
    records += [(poison.id, poison.model_dump_json().encode()), ("broken", b"{not json")]
    records += [(t.id, t.model_dump_json().encode()) for t in good[10:]]
    await produce(kafka_broker.bootstrap, source, records)

    stage = build_stage(settings, source, sink, unique("poison"))
    stop = asyncio.Event()
    task = asyncio.create_task(stage.run(stop))
    try:
        out = await read_topic(kafka_broker.bootstrap, sink, lambda r: len(r) >= 20, 60)

        def mine(records):
            found = [json.loads(v) for _, v in records]
            return [r for r in found if r["stage"] == "echo" and r["source"]["uri"] == source]

        rejected = mine(
            await read_topic(
                kafka_broker.bootstrap, "rft.traces.rejected.v1", lambda r: len(mine(r)) >= 2, 60
            )
        )
    finally:
        stop.set()
        await task
    assert {k for k, _ in out} == {t.id for t in good}
    by_reason = {r["reason"]: r for r in rejected}
    assert set(by_reason) == {"processing_error", "invalid_record"}
    assert "cannot digest record trace-00099" in by_reason["processing_error"]["detail"]
    assert by_reason["processing_error"]["trace_id"] == poison.id
    assert by_reason["invalid_record"]["excerpt"] == "{not json"


async def test_two_consumers_split_partitions_and_survivor_takes_over(kafka_broker):
    source, sink, group = unique("in"), unique("out"), unique("pair")
    settings = settings_for(kafka_broker)
    await ensure_topics(settings, [source, sink])
    first: KafkaStage[RawTrace] = build_stage(settings, source, sink, group)
    second: KafkaStage[RawTrace] = build_stage(settings, source, sink, group)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(first.run(stop_first))]
    await wait_until(lambda: len(first.assignment()) == 4, 30, "first consumer never joined")
    tasks.append(asyncio.create_task(second.run(stop_second)))
    try:
        await wait_until(
            lambda: first.assignment() and second.assignment()
            and len(first.assignment() | second.assignment()) == 4,
            60,
            "the group never split the partitions",
        )
        assert not first.assignment() & second.assignment()

        stop_first.set()
        await tasks[0]
        await wait_until(lambda: len(second.assignment()) == 4, 60, "survivor never took over")

        inputs = [trace(i) for i in range(200)]
        await produce(
            kafka_broker.bootstrap, source, ((t.id, t.model_dump_json().encode()) for t in inputs)
        )
        out = await read_topic(kafka_broker.bootstrap, sink, lambda r: len(r) >= 200, 60)
        assert {k for k, _ in out} == {t.id for t in inputs}
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(*tasks)
