"""A service whose stage or HTTP server fails stops, and says so: serve_many raises
ServiceFailed and the process (run_service) exits non-zero, so Kubernetes restarts it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from rft_runtime.kafka.broker import LocalBroker, free_port
from rft_runtime.kafka.stage import Inbound, KafkaStage, Outbound
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.service import HttpApp, ServiceFailed, serve_many
from rft_runtime.settings import RuntimeSettings
from rft_schemas.kafka_topics import TopicSpec
from rft_schemas.traces import RawTrace
from tests.integration.kafka_io import produce, unique

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[2]


def broken_decoder(record: ConsumerRecord) -> RawTrace:
    # not a ValueError: outside what the stage turns into a rejection, so the stage dies
    raise TypeError(f"decoder bug at offset {record.offset}")


def dying_stage(settings: RuntimeSettings, source: str, name: str) -> KafkaStage[RawTrace]:
    async def handle(batch: Sequence[Inbound[RawTrace]]) -> list[Outbound]:
        return []

    return KafkaStage(
        name, TopicSpec(source, RawTrace, ("tests",), ("dying",)), handle, settings,
        group_id=unique("dying"), decode=broken_decoder,
    )


async def test_a_stage_that_dies_stops_the_service_and_raises(kafka_broker: LocalBroker):
    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=1)
    source = unique("in")
    await ensure_topics(settings, [source])
    await produce(kafka_broker.bootstrap, source, [("k", b"{}")])
    app = FastAPI()
    stop = asyncio.Event()
    with pytest.raises(ServiceFailed, match="dying-stage: TypeError: decoder bug") as failed:
        await asyncio.wait_for(
            serve_many([HttpApp(app, "127.0.0.1", free_port())],
                       [dying_stage(settings, source, "dying-stage")], stop,
                       handle_signals=False),
            60,
        )
    assert isinstance(failed.value.__cause__, TypeError)
    assert stop.is_set()  # the other tasks were told to stop


async def test_an_http_app_that_cannot_start_fails_the_service():
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("the store is not reachable")
        yield

    with pytest.raises(ServiceFailed, match=r"HttpServerFailed: HTTP server .* failed to start"):
        await asyncio.wait_for(
            serve_many([HttpApp(FastAPI(lifespan=lifespan), "127.0.0.1", free_port())], [],
                       handle_signals=False),
            30,
        )


async def test_a_clean_stop_returns_normally_after_serving():
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_many([HttpApp(app, "127.0.0.1", port)], [], stop, handle_signals=False)
    )
    url = f"http://127.0.0.1:{port}/ping"
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            assert not task.done(), f"serve_many ended before it served: {task.result()!r}"
            try:
                answer = await client.get(url)
                break
            except httpx.TransportError:
                assert asyncio.get_running_loop().time() < deadline, "the server never started"
                await asyncio.sleep(0.05)
        assert answer.status_code == 200 and answer.json() == {"pong": "yes"}

        stop.set()
        assert await asyncio.wait_for(task, 30) is None
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


SERVICE = textwrap.dedent("""
    import sys
    from fastapi import FastAPI
    from rft_runtime.kafka.broker import free_port
    from rft_runtime.service import run_service
    from rft_runtime.settings import RuntimeSettings
    from tests.integration.test_service_failure import dying_stage

    settings = RuntimeSettings(kafka_bootstrap=sys.argv[1], kafka_partitions=1,
                               http_host="127.0.0.1", http_port=free_port(),
                               service_name="dying")
    run_service(FastAPI(), [dying_stage(settings, sys.argv[2], "dying-stage")], settings)
""")


async def test_run_service_exits_non_zero_when_its_stage_dies(kafka_broker: LocalBroker):
    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=1)
    source = unique("in")
    await ensure_topics(settings, [source])
    await produce(kafka_broker.bootstrap, source, [("k", b"{}")])
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVICE, kafka_broker.bootstrap, source,
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 90)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1, output.decode(errors="replace")[-3000:]
    assert b"decoder bug" in output


async def test_a_stage_that_ends_before_the_stop_fails_the_service(kafka_broker: LocalBroker):
    class QuitsAtOnce(KafkaStage[RawTrace]):
        async def run(self, stop: asyncio.Event) -> None:
            return None

    settings = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap)
    stage = QuitsAtOnce("quitter", TopicSpec("unused", RawTrace, (), ()), dying_stage(
        settings, "unused", "x").handler, settings)
    with pytest.raises(ServiceFailed, match="quitter: ended unexpectedly"):
        await asyncio.wait_for(serve_many([], [stage], handle_signals=False), 30)
