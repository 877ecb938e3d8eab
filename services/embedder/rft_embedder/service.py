"""Assembles the embedder service: one model load, the vector store, HTTP routes, Kafka stage."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rft_embedder.api import build_router
from rft_embedder.models import Embedder, load_embedder
from rft_embedder.settings import EmbedderSettings
from rft_embedder.stage import build_stage
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.settings import RuntimeSettings
from rft_runtime.shell import ServiceShell
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

    shell = ServiceShell(runtime, "rft embedder")
    shell.ready_when("vectorstore", vector_store_ready(store))
    if shell.streaming:
        shell.consume(build_stage(runtime, embedder, store, settings))

    # The embed route's own body limit, under the runtime's (which the whole app applies).
    body_limit = min(runtime.http_max_body_bytes, settings.http_max_request_bytes)
    app = shell.app(build_router(embedder, settings),
                    settings=runtime.model_copy(update={"http_max_body_bytes": body_limit}))
    return app, shell.stages, runtime
