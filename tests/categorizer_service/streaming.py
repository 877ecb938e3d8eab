"""Test-side streaming helpers: stages on a fresh consumer group, prompts in, records out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from tests.integration.kafka_io import produce, read_topic


async def start_group_at_end(settings: RuntimeSettings, group: str, topic: str) -> None:
    """Commit the topic's current end for ``group``, so a stage on it reads only what this
    test produces next (the broker is shared by the whole session)."""
    await ensure_topics(settings, {topic})
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions: set[int] | None = None
        while not partitions:
            await consumer.topics()  # refreshes the metadata
            partitions = consumer.partitions_for_topic(topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit({tp: ends[tp] for tp in tps})
    finally:
        await consumer.stop()


async def run_on_fresh_group(stage: KafkaStage[Any], group: str) -> asyncio.Task[None]:
    await start_group_at_end(stage.settings, group, stage.source.name)
    stage.group_id = group
    stop = asyncio.Event()
    task = asyncio.create_task(stage.run(stop), name=group)
    deadline = time.monotonic() + 30
    while not stage.assignment():
        assert not task.done(), "the stage stopped before it was assigned partitions"
        assert time.monotonic() < deadline, "the stage never got its partitions"
        await asyncio.sleep(0.05)
    task.stop_event = stop  # type: ignore[attr-defined]
    return task


async def produce_models(bootstrap: str, topic: str, items: Sequence[tuple[str, BaseModel]]) -> int:
    return await produce(bootstrap, topic, [(k, v.model_dump_json().encode()) for k, v in items])


async def records_of(
    bootstrap: str,
    topic: str,
    model: type[BaseModel],
    keep: Callable[[Any], bool],
    until: Callable[[dict[str, Any]], bool],
    timeout_s: float = 90.0,
    min_total: int = 0,
) -> tuple[dict[str, Any], int]:
    """The latest record per key among those ``keep`` accepts, once ``until`` holds; and how
    many such records were on the topic in all (more than the keys: re-deliveries)."""
    latest: dict[str, Any] = {}
    total = 0

    def done(seen: list[tuple[str, bytes]]) -> bool:
        nonlocal latest, total
        latest, total = {}, 0
        for key, value in seen:
            record = model.model_validate_json(value)
            if keep(record):
                latest[key] = record
                total += 1
        return total >= min_total and until(latest)

    await read_topic(bootstrap, topic, done, timeout_s)
    return latest, total
