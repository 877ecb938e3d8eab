"""The HTTP shell every service gets: health, readiness, metrics, body limits — over real HTTP."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel

from rft_runtime.http.app import create_app, stages_consuming, tcp_reachable
from rft_runtime.kafka.broker import free_port
from rft_runtime.kafka.topics import ensure_topics
from rft_runtime.service import serve
from rft_runtime.settings import RuntimeSettings
from rft_schemas.traces import RawTrace, SourceLocation
from tests.integration.echo_stage import build_stage
from tests.integration.kafka_io import produce, read_topic

pytestmark = pytest.mark.broker


async def wait_http(url: str, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)



class Upload(BaseModel):
    """A body FastAPI parses itself (not read through request.body())."""

    data: str

async def test_running_service_answers_health_readiness_and_metrics(kafka_broker):
    port = free_port()
    source, sink = f"in.{uuid.uuid4().hex[:8]}", f"out.{uuid.uuid4().hex[:8]}"
    settings = RuntimeSettings(
        kafka_bootstrap=kafka_broker.bootstrap, kafka_partitions=2, http_port=port,
        http_max_body_bytes=1024, service_name="echo",
    )
    await ensure_topics(settings, [source, sink])
    stage = build_stage(settings, source, sink, f"g.{uuid.uuid4().hex[:8]}")

    async def stage_running() -> str | None:
        return None if stage.running else "stage not running"

    app = create_app(
        settings,
        title="echo",
        readiness={"kafka": tcp_reachable(kafka_broker.bootstrap), "stage": stage_running},
    )

    @app.post("/v1/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/v1/model")
    async def parsed(upload: Upload) -> dict[str, int]:
        return {"chars": len(upload.data)}

    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, [stage], settings, stop, handle_signals=False))
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_http(f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"

            for _ in range(100):
                ready = await client.get("/readyz")
                if ready.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"kafka": "ok", "stage": "ok"}

            trace = RawTrace(id="t1", dataset="d", source=SourceLocation(uri="x"), payload="hi")
            encoded = trace.model_dump_json().encode()
            await produce(kafka_broker.bootstrap, source, [(trace.id, encoded)])
            await read_topic(kafka_broker.bootstrap, sink, lambda r: len(r) >= 1, 30)
            for _ in range(50):
                metrics = (await client.get("/metrics")).text
                if 'rft_stage_records_out_total{stage="echo",topic="' + sink in metrics:
                    break
                await asyncio.sleep(0.1)
            assert 'rft_stage_records_in_total{stage="echo"}' in metrics
            assert 'rft_stage_records_out_total{stage="echo",topic="' + sink in metrics
            assert "rft_stage_handler_seconds_bucket" in metrics
            assert "rft_stage_consumer_lag" in metrics

            small = await client.post("/v1/echo", content=b"x" * 1000)
            assert small.status_code == 200 and small.json() == {"bytes": 1000}
            large = await client.post("/v1/echo", content=b"x" * 5000)
            assert large.status_code == 413

            async def chunks():
                for _ in range(10):
                    yield b"y" * 500

            chunked = await client.post("/v1/echo", content=chunks())
            assert chunked.status_code == 413

            async def json_chunks():
                yield b'{"data": "'
                for _ in range(10):
                    yield b"z" * 500
                yield b'"}'

            # FastAPI parses a model body itself: the limit must still answer 413, not 400
            modelled = await client.post("/v1/model", content=json_chunks(),
                                         headers={"content-type": "application/json"})
            assert modelled.status_code == 413, modelled.text
            assert "larger than the limit" in modelled.json()["detail"]
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
    assert not stage.running


async def test_readiness_fails_with_the_reason_when_a_dependency_is_down():
    port = free_port()
    closed = free_port()
    settings = RuntimeSettings(http_port=port, service_name="lonely")
    app = create_app(
        settings, title="lonely", readiness={"kafka": tcp_reachable(f"127.0.0.1:{closed}")}
    )
    stop = asyncio.Event()
    service = asyncio.create_task(serve(app, [], settings, stop, handle_signals=False))
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz")
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert f"127.0.0.1:{closed}" in ready.json()["checks"]["kafka"]


async def test_readiness_names_the_stages_that_do_not_consume():
    @dataclass
    class Stage:
        name: str
        running: bool

    workers, jobs = Stage("grader-worker", True), Stage("grader-jobs", False)
    check = stages_consuming([workers, jobs])
    assert await check() == "not consuming: grader-jobs"
    jobs.running = True
    assert await check() is None
