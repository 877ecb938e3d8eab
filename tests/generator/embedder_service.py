"""The embedder service over real HTTP with the tests' model: what ``RFT_GENERATOR_EMBEDDER_URL``
names in the cluster (the generator has no model of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from rft_embedder import Embedder
from rft_embedder.service import build_service as build_embedder
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore.edge import EdgeVectorStore
from tests.categorizer_service.http_server import served


@asynccontextmanager
async def embedder_service(embedder: Embedder, root: Path) -> AsyncIterator[str]:
    """Its base URL while it serves; its own Qdrant dir under ``root`` (POST /v1/embed stores
    nothing)."""
    store = EdgeVectorStore(root / "embedder-qdrant")
    app, _, runtime = build_embedder(
        RuntimeSettings(data_dir=root / "embedder", log_json=False), store=store,
        embedder=embedder,
    )
    try:
        async with served(app, runtime) as http:
            yield str(http.base_url).rstrip("/")
    finally:
        store.close()
