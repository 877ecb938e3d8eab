"""Both adapters behind one fixture: every behaviour test runs on Edge and on qdrant-client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from rft_runtime.vectorstore import VectorStore
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_runtime.vectorstore.server import ServerVectorStore


def open_store(kind: str, path: Path) -> VectorStore:
    if kind == "edge":
        return EdgeVectorStore(path / "edge")
    # qdrant-client's local mode speaks the client API a server does.
    return ServerVectorStore(QdrantClient(location=":memory:"))


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()
