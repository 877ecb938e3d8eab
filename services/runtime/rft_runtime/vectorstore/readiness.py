"""The readiness check of a service that keeps vectors: ready when the store answers."""

from __future__ import annotations

import asyncio

from rft_runtime.http.app import ReadinessCheck
from rft_runtime.vectorstore.base import VectorStore


def vector_store_ready(store: VectorStore) -> ReadinessCheck:
    """Ready when the store answers (a server is reachable; Edge's directory is open)."""

    async def check() -> str | None:
        await asyncio.to_thread(store.collection_exists, "readiness-probe")
        return None

    return check
