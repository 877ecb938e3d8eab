"""Every stage, whatever its service, retries a batch while a store or the LLM endpoint is down
(the runner's one list of outages), and still rejects a record its handler fails on for any
other reason."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.llm import LLMRequestError, LLMUnavailableError
from rft_runtime.settings import RuntimeSettings
from rft_runtime.sql import StoreUnavailable
from rft_schemas.kafka_topics import TopicSpec
from rft_schemas.traces import RawTrace, SourceLocation
from tests.runtime.store_outage import Delivery, consumed

DOWN = [
    StoreUnavailable("PostgreSQL at postgresql://db/x: connection refused"),
    LLMUnavailableError("http://llm/v1", 4, "503 Service Unavailable"),
]


def failing_then_echoing(errors: list[Exception]):  # type: ignore[no-untyped-def]
    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        if errors:
            raise errors.pop(0)
        return [Outbound("out", item.value.id, item.value) for item in batch]

    return handle


async def process(errors: list[Exception]) -> Delivery:
    stage: KafkaStage[RawTrace] = KafkaStage(
        "outages", TopicSpec("in", RawTrace, ("t",), ("outages",)), failing_then_echoing(errors),
        RuntimeSettings(kafka_bootstrap="unused:9092"), registry=CollectorRegistry(),
        retry_backoff_s=0.001, max_backoff_s=0.002,
    )
    delivery = Delivery()
    stage._producer = delivery  # type: ignore[assignment]
    stage._consumer = delivery  # type: ignore[assignment]
    trace = RawTrace(id="t0", dataset="d", source=SourceLocation(uri="t"), payload="p")
    await stage._process_and_commit(
        {TopicPartition("in", 0): [consumed("in", 0, "t0", trace)]}, asyncio.Event()
    )
    return delivery


@pytest.mark.parametrize("outage", DOWN, ids=lambda e: type(e).__name__)
async def test_an_outage_retries_the_batch_and_rejects_nothing(outage: Exception) -> None:
    delivery = await process([outage, outage])
    assert delivery.rejections() == []
    assert delivery.keys_on("out") == ["t0"]
    assert len(delivery.commits) == 1


async def test_an_llm_request_the_endpoint_refuses_is_the_records_failure_not_an_outage() -> None:
    delivery = await process([LLMRequestError("http://llm/v1", 400, "bad request")] * 2)
    [rejection] = delivery.rejections()
    assert rejection.reason == "processing_error"
    assert delivery.keys_on("out") == []
