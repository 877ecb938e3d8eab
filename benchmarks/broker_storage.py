"""The local broker's durable storage against its memory storage: records produced per second
(one producer, acks=all) and the time to consume them back in a group, committing each batch.

    python benchmarks/broker_storage.py [RECORDS]

Memory storage is the baseline (what the test fixture runs); the durable one is what `rft up`
runs: Tansu's S3 engine over rft_runtime.kafka.object_store (each object fsynced).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings

RECORD = b"x" * 300


async def measure(bootstrap: str, records: int) -> tuple[float, float]:
    """(records produced per second, seconds to consume and commit them all)."""
    await ensure_topics(RuntimeSettings(kafka_bootstrap=bootstrap, kafka_partitions=4), ["bench"])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    began = time.perf_counter()
    futures = [await producer.send("bench", RECORD, key=f"k{i}".encode()) for i in range(records)]
    await asyncio.gather(*futures)
    produced = records / (time.perf_counter() - began)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        "bench", bootstrap_servers=bootstrap, group_id="bench", auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    began, seen = time.perf_counter(), 0
    while seen < records:
        batch = await consumer.getmany(timeout_ms=1000, max_records=500)
        seen += sum(len(part) for part in batch.values())
        if batch:
            await consumer.commit()
    consumed = time.perf_counter() - began
    await consumer.stop()
    return produced, consumed


def run(records: int, storage: Path | None) -> tuple[float, float]:
    broker = LocalBroker(storage_dir=storage)
    broker.start()
    try:
        return asyncio.run(measure(broker.bootstrap, records))
    finally:
        broker.stop()


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(f"{records} records of {len(RECORD)} bytes, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    memory = run(records, None)
    print(f"memory (baseline)        {memory[0]:8.0f} records/s produced, "
          f"{memory[1]:6.2f} s consumed")
    with tempfile.TemporaryDirectory() as scratch:
        durable = run(records, Path(scratch) / "broker")
    print(f"durable (rft up)         {durable[0]:8.0f} records/s produced, "
          f"{durable[1]:6.2f} s consumed   "
          f"ratio {durable[0] / memory[0]:.2f} / {durable[1] / memory[1]:.1f}x")


if __name__ == "__main__":
    main()
