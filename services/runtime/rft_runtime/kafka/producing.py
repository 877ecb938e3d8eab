"""Producing outputs: the Outbound record, acknowledged sends, and a lifespan-managed producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from rft_runtime.kafka.clients import make_producer
from rft_runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class Outbound:
    """One record to produce; ``key`` is the stable id that makes the sink idempotent."""

    topic: str
    key: str
    value: BaseModel


def encode(value: BaseModel) -> bytes:
    return value.model_dump_json().encode("utf-8")


async def send_all(producer: AIOKafkaProducer, outputs: Sequence[Outbound]) -> None:
    """Produce every output and return once the broker has acknowledged all of them."""
    futures = [
        await producer.send(
            out.topic,
            value=encode(out.value),
            key=out.key.encode("utf-8"),
            headers=[("schema", type(out.value).__name__.encode())],
        )
        for out in outputs
    ]
    await asyncio.gather(*futures)


class ManagedProducer:
    """A producer for an HTTP app's lifespan: aiokafka needs the running loop to create one."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = make_producer(self.settings)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_all(self, outputs: Sequence[Outbound]) -> None:
        if self._producer is None:
            raise RuntimeError("the producer is not started")
        await send_all(self._producer, outputs)
