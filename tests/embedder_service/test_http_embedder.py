"""The embedder service's client (rft_runtime.embedding.http.HttpEmbedder, what the generator
and the grader's cosine metric embed with): it names, sizes and keys vectors exactly as the
model behind the service does (GET /v1/embedder), so the vectors the embedder stored are found."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from rft_embedder import Embedder
from rft_embedder.service import build_service
from rft_runtime.embedding.http import EmbedderUnavailable, HttpEmbedder
from rft_runtime.embedding.points import embedding_key
from rft_runtime.processes import free_port
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore.edge import EdgeVectorStore
from tests.categorizer_service.http_server import served


async def test_the_http_embedder_names_and_keys_vectors_as_the_embedder_does(
    embedder: Embedder, tmp_path: Path,
) -> None:
    settings = RuntimeSettings(data_dir=tmp_path, log_json=False)
    app, _, _ = build_service(
        settings, store=EdgeVectorStore(tmp_path / "qdrant"), embedder=embedder
    )
    texts = ["Turn on the drone lights", "Refund my order"] * 3
    async with served(app, settings) as http:
        info = (await http.get("/v1/embedder")).json()
        remote = HttpEmbedder(str(http.base_url), texts_per_request=4)  # 2 requests for 6 texts
        try:
            name, dimensions = await asyncio.to_thread(lambda: (remote.name, remote.dimensions))
            vectors = await asyncio.to_thread(remote.embed, texts)
            empty = await asyncio.to_thread(remote.embed, [])
            encoded = await asyncio.to_thread(remote.encode, texts[:2])
        finally:
            remote.close()
    assert info == {"model": embedder.name, "dimensions": embedder.dimensions}
    assert (name, dimensions) == (embedder.name, embedder.dimensions)
    assert embedding_key(name, texts[0]) == embedding_key(embedder.name, texts[0])
    assert vectors.dtype == np.float32 and vectors.shape == (6, embedder.dimensions)
    assert np.allclose(vectors, embedder.embed(texts), atol=1e-6)
    assert empty.shape == (0, embedder.dimensions)
    assert np.allclose(encoded, vectors[:2], atol=1e-6)


def test_an_embedder_service_that_is_down_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    remote = HttpEmbedder(url)
    with pytest.raises(EmbedderUnavailable, match=f"embedder service at {url}/v1/embedder"):
        _ = remote.dimensions
    with pytest.raises(EmbedderUnavailable, match=f"embedder service at {url}/v1/embed:"):
        remote.embed(["hello"])
