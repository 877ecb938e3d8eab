"""Serve a service's app in this event loop on a free port, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from rft_runtime.kafka.broker import free_port
from rft_runtime.service import serve
from rft_runtime.settings import RuntimeSettings


@asynccontextmanager
async def served(app: FastAPI, settings: RuntimeSettings,
                 port: int | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """``port``: where to serve (a URL another service was given); unset = a free one."""
    settings = settings.model_copy(update={"http_port": port or free_port()})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, [], settings, stop, handle_signals=False))
    base = f"http://127.0.0.1:{settings.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        deadline = time.monotonic() + 30
        while True:
            try:
                await client.get("/healthz")
                break
            except httpx.TransportError:
                assert not task.done(), "the server stopped before answering"
                assert time.monotonic() < deadline, "the server never answered"
                await asyncio.sleep(0.05)
        try:
            yield client
        finally:
            stop.set()
            await task
