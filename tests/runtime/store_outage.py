"""A consumed batch through a service's real Kafka stage while its PostgreSQL store is down: an
in-memory producer and consumer stand in for the broker, the store is a real server that stops
before the batch and starts again once the stage has failed on it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from pydantic import BaseModel

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.postgres_local import LocalPostgres
from rft_runtime.processes import stop_process
from rft_schemas.kafka_topics import REJECTED
from rft_schemas.traces import Rejection


def consumed(topic: str, offset: int, key: str, value: BaseModel) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=0, timestamp_type=0,
        key=key.encode(), value=value.model_dump_json().encode(), checksum=None,
        serialized_key_size=0, serialized_value_size=0, headers=(),
    )


@dataclass
class Delivery:
    """What the stage did with the batch."""

    acked: list[tuple[str, str, bytes]] = field(default_factory=list)
    """(topic, key, value) of every output the producer acknowledged."""
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    failed_calls: int = 0
    """Handler calls that raised (while the store was down)."""

    def keys_on(self, topic: str) -> list[str]:
        return sorted(key for t, key, _ in self.acked if t == topic)

    def rejections(self) -> list[Rejection]:
        return [Rejection.model_validate_json(v) for t, _, v in self.acked if t == REJECTED.name]

    # the stage's producer and consumer
    async def send(self, topic: str, value: bytes, key: bytes, headers: object) -> asyncio.Future:
        self.acked.append((topic, key.decode(), value))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


async def deliver_across_an_outage(
    stage: KafkaStage[Any], records: list[ConsumerRecord], server: LocalPostgres
) -> Delivery:
    """Stops ``server``, hands ``records`` (one partition) to ``stage`` as one consumed batch,
    starts the server again once a handler call has failed, and waits for the batch's commit."""
    delivery = Delivery()
    handler = stage.handler
    failed = asyncio.Event()

    async def counting(batch: Sequence[Inbound[Any]]) -> Sequence[Outbound]:
        try:
            return await handler(batch)
        except Exception:
            delivery.failed_calls += 1
            failed.set()
            raise

    stage.handler = counting
    stage.retry_backoff_s = stage.max_backoff_s = 0.05
    stage._producer = delivery  # type: ignore[assignment]
    stage._consumer = delivery  # type: ignore[assignment]
    partition = TopicPartition(records[0].topic, 0)
    stop_process(server.process, 10.0, first_signal=signal.SIGINT)  # the store goes away
    try:
        processing = asyncio.create_task(
            stage._process_and_commit({partition: records}, asyncio.Event())
        )
        waiting = asyncio.create_task(failed.wait())
        await asyncio.wait([processing, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        await asyncio.to_thread(server.restart)  # the store is back
        await asyncio.wait_for(processing, 60)
    finally:
        if server.process is None or server.process.poll() is not None:
            server.restart()  # the session's server stays up for the tests after this one
    return delivery
