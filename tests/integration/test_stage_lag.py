"""The consumer-lag gauge reports only the partitions a stage holds: after a rebalance moves
partitions away, or the stage stops, their series are gone (the summed lag is not inflated)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import TopicSpec
from rft_schemas.traces import RawTrace, SourceLocation
from tests.integration.echo_stage import build_stage
from tests.integration.kafka_io import produce, unique, wait_until

pytestmark = pytest.mark.broker


def lag_series(registry: CollectorRegistry) -> set[int]:
    return {
        int(sample.labels["partition"])
        for metric in registry.collect()
        if metric.name == "rft_stage_consumer_lag"
        for sample in metric.samples
    }


def held(stage: KafkaStage[RawTrace]) -> set[int]:
    return {tp.partition for tp in stage.assignment()}


def stage_in(settings: RuntimeSettings, source: str, sink: str, group: str):
    stage = build_stage(settings, source, sink, group)
    # its own registry, so the two stages' series (same stage name) do not mix
    registry = CollectorRegistry()
    return KafkaStage(
        stage.name, TopicSpec(source, RawTrace, ("tests",), ("echo",)), stage.handler, settings,
        outputs=stage.outputs, group_id=group, registry=registry,
    ), registry


async def test_lag_series_follow_the_assignment(kafka_broker: LocalBroker):
    source, sink, group = unique("in"), unique("out"), unique("lag")
    settings = RuntimeSettings(
        kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=4, kafka_batch_timeout_ms=100
    )
    await ensure_topics(settings, [source, sink])
    await produce(kafka_broker.bootstrap, source, [
        (f"t{i}", RawTrace(id=f"t{i}", dataset="lag", source=SourceLocation(uri="t"),
                            payload="p").model_dump_json().encode())
        for i in range(40)
    ])
    (first, first_registry), (second, second_registry) = (
        stage_in(settings, source, sink, group), stage_in(settings, source, sink, group)
    )
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(first.run(stop_first))]
    try:
        await wait_until(lambda: lag_series(first_registry) == {0, 1, 2, 3}, 30,
                         "the first stage never reported lag for all four partitions")
        tasks.append(asyncio.create_task(second.run(stop_second)))
        await wait_until(
            lambda: held(first) and held(second) and len(held(first) | held(second)) == 4,
            60, "the group never split the partitions",
        )
        await wait_until(lambda: lag_series(first_registry) == held(first), 10,
                         f"first reports {lag_series(first_registry)}, holds {held(first)}")
        await wait_until(lambda: lag_series(second_registry) == held(second), 10,
                         f"second reports {lag_series(second_registry)}, holds {held(second)}")

        stop_second.set()
        await tasks[1]
        assert lag_series(second_registry) == set(), "a stopped stage keeps its lag series"
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(*tasks)
    assert lag_series(first_registry) == set()
