"""Test-side Kafka I/O: produce inputs and read a topic back, polling with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


async def produce(bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k.encode()) for k, v in records]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[tuple[str, bytes]]], bool],
    timeout_s: float = 60.0,
) -> list[tuple[str, bytes]]:
    """Every (key, value) on ``topic`` from the beginning, once ``until`` holds (or raise)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = None
        deadline = time.monotonic() + timeout_s
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                # aiokafka keeps its client private; a topic created a moment ago needs it
                await consumer._client.force_metadata_update()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} never appeared")
                await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen: list[tuple[str, bytes]] = []
        while not until(seen):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: condition not met with {len(seen)} records")
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                seen.extend((r.key.decode() if r.key else "", r.value or b"") for r in part)
        return seen
    finally:
        await consumer.stop()


def unique(prefix: str) -> str:
    """A topic or group name of its own, so tests sharing one broker never meet."""
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


async def wait_until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)
