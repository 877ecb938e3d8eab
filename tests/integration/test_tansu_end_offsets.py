"""What the local broker (Tansu 0.6.0) answers for a partition's end offset.

Kafka's end offset (ListOffsets, latest: the high watermark) is the offset after the last record.
Tansu answers the offset after the *first* record of the last batch: after a produce request that
carried several records to a partition, the end offset it reports is short by all but one of
them, while a fetch still returns every record (and the right high watermark: the stages'
rft_stage_consumer_lag gauge, which takes it from fetches, is right). So a consumer group that has
committed every record looks ahead of the end (negative lag), and a lag computed from ListOffsets
(KEDA's Kafka scaler, against this broker) undercounts a partition whose last batch had several
records. Tests that need "everything on the topic" read to the end instead
(tests/e2e/test_cluster_journey.py). This test pins the behaviour: when it fails, the broker
answers as Kafka does and those workarounds can go.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from tests.integration.kafka_io import unique

pytestmark = pytest.mark.broker


async def test_the_end_offset_after_a_batch_of_five_is_short_by_four(kafka_broker: LocalBroker):
    topic = unique("end-offsets")
    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=1)
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, linger_ms=50)
    await producer.start()
    try:
        # one request, one batch of five records
        sent = [await producer.send(topic, b"x", partition=0) for _ in range(5)]
        offsets = [m.offset for m in await asyncio.gather(*sent)]
    finally:
        await producer.stop()
    assert offsets == [0, 1, 2, 3, 4]

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_broker.bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        reported = (await consumer.end_offsets([tp]))[tp]
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        fetched: list[int] = []
        for _ in range(20):
            if len(fetched) == 5:
                break
            for records in (await consumer.getmany(timeout_ms=200)).values():
                fetched += [r.offset for r in records]
    finally:
        await consumer.stop()
    assert fetched == [0, 1, 2, 3, 4], "a fetch returns every record"
    assert reported == 1, "Kafka would answer 5: the offset after the last record"
