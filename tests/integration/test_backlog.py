"""A stage's backlog, as `rft submit` waits on it: the records after its group's committed
offsets, read from the real broker (whose reported end offsets fall short: see
test_tansu_end_offsets), and the wait that names the stage still behind."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from rft_runtime.kafka.backlog import NotCaughtUp, backlog, wait_caught_up
from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.kafka.declaration import StageDeclaration
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import TopicSpec
from rft_schemas.traces import RawTrace
from tests.integration.kafka_io import unique

pytestmark = pytest.mark.broker


async def commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "")})
    finally:
        await consumer.stop()


async def test_the_backlog_counts_what_the_group_has_not_committed(
    kafka_broker: LocalBroker,
) -> None:
    topic = unique("backlog")
    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=1)
    await ensure_topics(settings, [topic])
    stage = StageDeclaration(unique("stage"), TopicSpec(topic, RawTrace, (), ()))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, linger_ms=50)
    await producer.start()
    try:  # one batch of five: the broker's reported end is short by four
        sent = [await producer.send(topic, b"x", partition=0) for _ in range(5)]
        for future in sent:
            await future
    finally:
        await producer.stop()

    assert await backlog(settings, stage) == {0: 5}  # nothing committed yet
    await commit(kafka_broker.bootstrap, stage.group, topic, 3)
    assert await backlog(settings, stage) == {0: 2}
    with pytest.raises(NotCaughtUp, match=f"{stage.name} is 2 records behind on {topic}"):
        await wait_caught_up(settings, [stage], timeout_s=0.5, poll_s=0.1)

    await commit(kafka_broker.bootstrap, stage.group, topic, 5)
    assert await backlog(settings, stage) == {0: 0}
    await wait_caught_up(settings, [stage], timeout_s=5)
