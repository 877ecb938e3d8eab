"""The embedder as a service: POST /v1/embed over real HTTP, and `python -m rft_embedder`
streaming sanitized prompts into Qdrant and onto rft.prompts.embedded.v1 on the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest

from rft_embedder import Embedder
from rft_embedder.service import build_service
from rft_runtime.kafka.broker import LocalBroker, free_port
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import collection_name, point_id
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.kafka_topics import EMBEDDED_PROMPTS, SANITIZED_PROMPTS
from rft_schemas.topics import EmbeddedPrompt
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import as_dataset
from tests.categorizer_service.http_server import served
from tests.categorizer_service.streaming import produce_models, records_of, start_group_at_end


async def test_embed_route_answers_normalized_vectors_in_order(
    embedder: Embedder, tmp_path: Path
) -> None:
    settings = RuntimeSettings(data_dir=tmp_path, log_json=False)
    app, stages, _ = build_service(
        settings, store=EdgeVectorStore(tmp_path / "qdrant"), embedder=embedder
    )
    assert stages == []
    texts = ["Turn on the drone lights", "Switch the drone lights on please", "Refund my order"]
    async with served(app, settings) as http:
        ready = await http.get("/readyz")
        response = await http.post("/v1/embed", json={"texts": texts})
        empty = await http.post("/v1/embed", json={"texts": []})
    assert ready.status_code == 200 and ready.json()["checks"] == {"vectorstore": "ok"}
    assert response.status_code == 200
    body = response.json()
    vectors = np.asarray(body["vectors"])
    assert body["dimensions"] == 384 == vectors.shape[1] and len(vectors) == 3
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # in order: the two light requests are each other's nearest, the refund is far from both
    assert vectors[0] @ vectors[1] > 0.7 > vectors[0] @ vectors[2]
    assert np.allclose(vectors[0], embedder.embed([texts[0]])[0], atol=1e-5)
    assert empty.status_code == 422


@pytest.mark.broker
async def test_embedder_process_streams_prompts_into_qdrant_once_each(
    kafka_broker: LocalBroker,
    embedder: Embedder,
    model_dir: Path,
    drone_prompts: list[SanitizedPrompt],
    tmp_path: Path,
) -> None:
    dataset = f"drone-{uuid.uuid4().hex[:8]}"
    prompts = as_dataset(drone_prompts[:20], dataset)
    runtime = RuntimeSettings(kafka_bootstrap=kafka_broker.bootstrap)
    await start_group_at_end(runtime, "rft-embedder", SANITIZED_PROMPTS.name)
    port = free_port()
    env = {
        **os.environ,
        "RFT_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "RFT_HTTP_PORT": str(port),
        "RFT_DATA_DIR": str(model_dir),  # the ONNX export the session already made
        "RFT_QDRANT_PATH": str(tmp_path / "qdrant"),
        "RFT_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - starting it is instant
        [sys.executable, "-m", "rft_embedder"], env=env
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(1200):
                try:
                    ready = await http.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "the embedder service exited"
                await asyncio.sleep(0.1)
            assert set(ready.json()["checks"]) == {"vectorstore", "kafka", "stage"}
        # Every prompt twice (a producer's retry): the store still holds each once.
        items = [(p.id, p) for p in prompts]
        await produce_models(kafka_broker.bootstrap, SANITIZED_PROMPTS.name, items + items)
        latest, _ = await records_of(
            kafka_broker.bootstrap, EMBEDDED_PROMPTS.name, EmbeddedPrompt,
            lambda r: r.prompt.dataset == dataset, lambda got: len(got) == len(prompts),
            min_total=2 * len(prompts),
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=60)
    assert exit_code == 0
    assert set(latest) == {p.id for p in prompts}
    assert all(r.point_id == point_id(r.prompt.id) for r in latest.values())
    store = EdgeVectorStore(tmp_path / "qdrant")
    try:
        collection = store.ensure_collection(
            _spec(collection_name("prompts", dataset), latest)
        )
        assert collection.count() == len(prompts)
        (point,) = collection.retrieve([point_id(prompts[0].id)])
        assert point.payload["prompt_id"] == prompts[0].id
        assert point.payload["dataset"] == dataset and point.payload["origin"] == "trace"
    finally:
        store.close()


def _spec(name: str, latest: dict[str, EmbeddedPrompt]):  # type: ignore[no-untyped-def]
    from rft_embedder import prompt_collection_spec

    dimensions = next(iter(latest.values())).dimensions
    spec = prompt_collection_spec("unused", dimensions)
    return type(spec)(name=name, dimensions=dimensions, indexed=spec.indexed)
