"""Assembles the embedder service: one model load, the vector store, HTTP routes, Kafka stage."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rft_embedder.api import build_router
from rft_embedder.models import Embedder, load_embedder
from rft_embedder.settings import EmbedderSettings
from rft_embedder.stage import build_stage
from rft_runtime.http.app import ReadinessCheck, create_app, stages_consuming, tcp_reachable
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import VectorStore, open_vector_store
from rft_runtime.vectorstore.readiness import vector_store_ready


def build_service(
    runtime: RuntimeSettings | None = None,
    settings: EmbedderSettings | None = None,
    *,
    store: VectorStore | None = None,
    embedder: Embedder | None = None,
) -> tuple[FastAPI, list[KafkaStage[Any]], RuntimeSettings]:
    """``store`` and ``embedder`` may be passed in to share them with other stages of the same
    process (Qdrant Edge opens a directory once per process)."""
    runtime = runtime or RuntimeSettings(service_name="embedder")
    settings = settings or EmbedderSettings()
    embedder = embedder or load_embedder(settings, runtime.data_dir)
    store = store or open_vector_store(runtime)

    stages: list[KafkaStage[Any]] = []
    readiness: dict[str, ReadinessCheck] = {"vectorstore": vector_store_ready(store)}
    if runtime.kafka_bootstrap:
        stage = build_stage(runtime, embedder, store, settings)
        stages.append(stage)
        readiness["kafka"] = tcp_reachable(runtime.kafka_bootstrap)

        readiness["stage"] = stages_consuming([stage])

    # The embed route's own body limit, under the runtime's (which the whole app applies).
    body_limit = min(runtime.http_max_body_bytes, settings.http_max_request_bytes)
    app = create_app(
        runtime.model_copy(update={"http_max_body_bytes": body_limit}),
        title="rft embedder",
        readiness=readiness,
    )
    app.include_router(build_router(embedder, settings))
    return app, stages, runtime
