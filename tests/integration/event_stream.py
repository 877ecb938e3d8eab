"""Following a service's server-sent events over real HTTP, as a browser would."""

from __future__ import annotations

import asyncio

import httpx

from rft_runtime.http.sse import ServerSentEvent, parse_events


async def follow(client: httpx.AsyncClient, url: str, timeout_s: float) -> list[ServerSentEvent]:
    """Every event of the stream at ``url`` until the service ends it."""
    async def read() -> list[ServerSentEvent]:
        async with client.stream("GET", url, timeout=httpx.Timeout(None, connect=10)) as answer:
            assert answer.status_code == 200, await answer.aread()
            assert answer.headers["content-type"].startswith("text/event-stream")
            return [event async for event in parse_events(answer.aiter_lines())]
    return await asyncio.wait_for(read(), timeout_s)
