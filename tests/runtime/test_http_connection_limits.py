"""What every service's HTTP server allows one connection: deadlines for the request head and
body, and a 422 that says what is wrong without echoing the input. Real sockets, loopback only,
every wait bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from rft_runtime.http.app import create_app
from rft_runtime.kafka.broker import free_port
from rft_runtime.service import serve
from rft_runtime.settings import RuntimeSettings

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5


class Numbers(BaseModel):
    values: list[int] = Field(max_length=10)


@asynccontextmanager
async def server(**overrides: object) -> AsyncIterator[tuple[str, int]]:
    settings = RuntimeSettings(
        http_port=free_port(), service_name="limits", log_json=False,
        http_header_timeout_s=HEADER_TIMEOUT_S, http_body_timeout_s=BODY_TIMEOUT_S,
        **overrides,
    )
    app: FastAPI = create_app(settings, title="limits")

    @app.post("/v1/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @app.post("/v1/numbers")
    async def numbers(body: Numbers) -> dict[str, int]:
        return {"count": len(body.values)}

    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, [], settings, stop, handle_signals=False))
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await client.get(f"http://127.0.0.1:{settings.http_port}/healthz")
                break
            except httpx.TransportError:
                assert not task.done() and time.monotonic() < deadline, "server never answered"
                await asyncio.sleep(0.05)
    try:
        yield "127.0.0.1", settings.http_port
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def trickle_until_closed(
    writer: asyncio.StreamWriter, reader: asyncio.StreamReader, data: bytes,
    every_s: float, limit_s: float,
) -> tuple[float, bytes]:
    """Send ``data`` one byte every ``every_s`` until the server closes; (seconds, answer)."""
    began = time.monotonic()
    received = bytearray()

    async def read_all() -> None:
        while chunk := await reader.read(4096):
            received.extend(chunk)

    reading = asyncio.create_task(read_all())
    try:
        for byte in data:
            if reading.done():
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([reading], timeout=every_s)
        await asyncio.wait_for(reading, max(0.0, limit_s - (time.monotonic() - began)))
    except (TimeoutError, ConnectionError):
        pass
    finally:
        reading.cancel()
        writer.close()
    return time.monotonic() - began, bytes(received)


async def test_a_client_sending_headers_one_byte_at_a_time_is_cut_off_at_the_timeout():
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    async with server() as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        took, answer = await trickle_until_closed(writer, reader, head, 0.05, limit_s=10)
        # the server stays responsive to everyone else meanwhile
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://{host}:{port}/healthz")).status_code == 200
    assert HEADER_TIMEOUT_S - 0.2 < took < HEADER_TIMEOUT_S + 1.5, took
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_many_slow_clients_are_all_cut_off_and_others_are_still_served():
    """50 clients trickling headers (500 such clients were all held for 40 s before)."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    async with server() as (host, port):
        connections = [await asyncio.open_connection(host, port) for _ in range(50)]
        slow = asyncio.gather(*(
            trickle_until_closed(writer, reader, head, 0.2, limit_s=10)
            for reader, writer in connections
        ))
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient() as client:
            meanwhile = await client.get(f"http://{host}:{port}/healthz")
        results = await slow
    assert meanwhile.status_code == 200
    took = [seconds for seconds, _ in results]
    assert max(took) < HEADER_TIMEOUT_S + 2.0, max(took)
    assert all(answer.startswith(b"HTTP/1.1 408") for _, answer in results)


async def test_a_connection_that_never_sends_a_request_is_closed():
    async with server() as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        began = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), HEADER_TIMEOUT_S + 5)
        took = time.monotonic() - began
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert took < HEADER_TIMEOUT_S + 1.5


async def test_a_body_sent_too_slowly_is_cut_off_at_the_body_timeout():
    head = b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n"
    async with server() as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(head)
        await writer.drain()
        took, answer = await trickle_until_closed(writer, reader, b"b" * 400, 0.05, limit_s=10)
    assert BODY_TIMEOUT_S - 0.2 < took < BODY_TIMEOUT_S + 1.5, took
    assert b'"bytes"' not in answer  # the request never reached a 200


async def test_kept_alive_connections_serve_requests_slower_in_total_than_the_deadlines():
    async with server() as (host, port), httpx.AsyncClient(
        base_url=f"http://{host}:{port}"
    ) as client:
        statuses = []
        for _ in range(4):  # one connection, 4 x 0.5 s: longer than either deadline
            statuses.append((await client.post("/v1/echo", content=b"x" * 100)).status_code)
            await asyncio.sleep(0.5)
    assert statuses == [200] * 4


async def test_a_422_names_the_error_without_echoing_the_input():
    async with server() as (host, port), httpx.AsyncClient(
        base_url=f"http://{host}:{port}"
    ) as client:
        too_many = await client.post("/v1/numbers", json={"values": list(range(20_000))})
        all_bad = await client.post("/v1/numbers", json={"values": ["x"] * 5})
        wrong_type = await client.post("/v1/numbers", json={"values": ["not a number"]})
    assert too_many.status_code == 422
    assert len(too_many.content) < 1000, len(too_many.content)
    [error] = too_many.json()["detail"]
    assert error["loc"] == ["body", "values"] and error["type"] == "too_long"
    assert "input" not in error
    assert all_bad.status_code == 422 and all_bad.json()["errors_total"] == 5
    assert wrong_type.json()["detail"][0]["input"] == "not a number"  # short scalars stay
