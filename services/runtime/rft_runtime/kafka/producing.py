"""Producing outputs: the Outbound record, acknowledged sends, and a lifespan-managed producer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from pydantic import BaseModel

from rft_runtime.kafka.clients import make_producer
from rft_runtime.settings import RuntimeSettings
from rft_schemas.traces import SourceLocation


@dataclass(frozen=True)
class Outbound:
    """One record to produce; ``key`` is the stable id that makes the sink idempotent.

    ``source``: optionally, the consumed record this output was made from
    (``Inbound.location()``); the stage names it when the output cannot be produced."""

    topic: str
    key: str
    value: BaseModel
    source: SourceLocation | None = None


def encode(value: BaseModel) -> bytes:
    return value.model_dump_json().encode("utf-8")


def is_retriable(error: BaseException) -> bool:
    """An error that may pass if the send is tried again (broker unavailable, leader moving).

    aiokafka marks KafkaTimeoutError non-retriable, but it is what ``send`` raises when the
    broker does not answer (no metadata for the topic) or the send buffer stays full."""
    if isinstance(error, KafkaTimeoutError):
        return True
    return isinstance(error, KafkaError) and bool(error.retriable)


async def send_each(
    producer: AIOKafkaProducer, outputs: Sequence[Outbound]
) -> list[Exception | None]:
    """Produce every output and wait for the broker's answer to each; return, per output,
    ``None`` once acknowledged or the error that kept it from the broker. One output that
    fails (too large for a request, say) does not keep the others from being sent."""
    errors: list[Exception | None] = [None] * len(outputs)
    sent: list[tuple[int, asyncio.Future[object]]] = []
    # A send that times out waiting for the broker (no metadata for its topic, a full buffer)
    # blocks for the producer's request timeout: the later outputs to that topic are given the
    # same error instead of each waiting its own timeout (the caller retries them all).
    unreachable: dict[str, Exception] = {}
    for index, out in enumerate(outputs):
        if out.topic in unreachable:
            errors[index] = unreachable[out.topic]
            continue
        try:
            future = await producer.send(
                out.topic,
                value=encode(out.value),
                key=out.key.encode("utf-8"),
                headers=[("schema", type(out.value).__name__.encode())],
            )
        except (KafkaError, ValueError) as exc:
            # MessageSizeTooLargeError (larger than max_request_size), KafkaTimeoutError (no
            # metadata for the topic), a value that does not serialize (ValueError)
            errors[index] = exc
            if is_retriable(exc):
                unreachable[out.topic] = exc
            continue
        sent.append((index, future))
    answers = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
    for (index, _), answer in zip(sent, answers, strict=True):
        if isinstance(answer, Exception):
            errors[index] = answer
        elif isinstance(answer, BaseException):
            raise answer
    return errors


async def send_all(producer: AIOKafkaProducer, outputs: Sequence[Outbound]) -> None:
    """Produce every output and return once the broker has acknowledged all of them; raise
    the first error if any output could not be produced."""
    for error in await send_each(producer, outputs):
        if error is not None:
            raise error


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
