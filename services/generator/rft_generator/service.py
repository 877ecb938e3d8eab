"""Assembles the generator service: job store, scheduler, HTTP routes (generation jobs and
step F's split), Kafka stage.

With ``RFT_LLM_BASE_URL`` unset the service starts the local SmolLM2 server for its lifetime.
Vectors come from the embedder service (``RFT_GENERATOR_EMBEDDER_URL``) or from an embedder its
caller passes (the ``rft`` CLI's process, which has the model): the generator never loads one,
so its image carries no torch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from rft_generator.api import build_router
from rft_generator.job_store import open_job_store
from rft_generator.jobs import JobScheduler
from rft_generator.runner import Publish
from rft_generator.settings import GeneratorSettings
from rft_generator.split_batch import TextEmbedder
from rft_generator.split_service import DatasetSplitter, build_split_router
from rft_generator.split_store import SplitStore
from rft_generator.stage import build_stage, prompt_outputs
from rft_runtime.embedding.http import HttpEmbedder
from rft_runtime.embedding.model import Embedder
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.llm import LLMSettings, LocalLLMServer
from rft_runtime.settings import RuntimeSettings
from rft_runtime.shell import ServiceShell
from rft_runtime.vectorstore import VectorStore, open_vector_store
from rft_schemas import SanitizedPrompt


class LLMEndpoint:
    """The configured endpoint, or the local server started with the app and stopped after."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._server: LocalLLMServer | None = None

    async def start(self) -> None:
        if not self.settings.base_url:
            self._server = LocalLLMServer(self.settings)
            url = await asyncio.to_thread(self._server.start)
            self.settings = self.settings.pointed_at_local(url)

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)


class EmbedderNotConfigured(RuntimeError):
    pass


def service_embedder(settings: GeneratorSettings) -> Embedder:
    """The embedder service's client, by ``RFT_GENERATOR_EMBEDDER_URL``."""
    if not settings.embedder_url:
        raise EmbedderNotConfigured(
            "the generator needs the embedder service: set RFT_GENERATOR_EMBEDDER_URL "
            "(e.g. http://embedder.rft.svc:8000), or pass an embedder to build_service"
        )
    return HttpEmbedder(settings.embedder_url, settings.embedder_timeout_s, settings.api_token)


def build_service(
    settings: GeneratorSettings | None = None,
    llm: LLMSettings | None = None,
    *,
    vector_store: VectorStore | None = None,
    embedder: Embedder | None = None,
) -> tuple[FastAPI, list[KafkaStage[Any]], RuntimeSettings]:
    """``settings`` are the service's and its runtime's (one data dir, one broker).
    ``vector_store`` may be shared with the embedder and categorizer stages of the same
    process (Qdrant Edge opens a directory once per process); so may ``embedder``, the model
    that process loaded. Without one, the embedder service's client (:func:`service_embedder`:
    raises :class:`EmbedderNotConfigured` when its URL is unset, before anything starts)."""
    settings = settings or GeneratorSettings(service_name="generator")
    vectors: Embedder = embedder if embedder is not None else service_embedder(settings)
    runtime: RuntimeSettings = settings
    endpoint = LLMEndpoint(llm or LLMSettings())
    store = open_job_store(settings.resolved_job_store_url())
    vector_stores: list[VectorStore] = [vector_store] if vector_store is not None else []

    def shared_vector_store() -> VectorStore:
        if not vector_stores:
            vector_stores.append(open_vector_store(runtime))
        return vector_stores[0]

    shell = ServiceShell(runtime, "rft generator")
    shell.manage(endpoint)
    publish: Publish | None = None
    producer = shell.publisher()  # accepted synthetic prompts, on to the embedder
    if producer is not None:
        send_all = producer

        async def send(prompts: Sequence[SanitizedPrompt]) -> None:
            await send_all(prompt_outputs(prompts))

        publish = send
    scheduler = JobScheduler(
        store, shared_vector_store, lambda: endpoint.settings, settings, publish,
        embedder=vectors,
    )
    shell.manage(scheduler)  # after the endpoint and producer: resumed jobs need both
    if shell.streaming:
        shell.consume(build_stage(runtime, scheduler))

    def split_embedder() -> TextEmbedder:
        return vectors

    splitter = DatasetSplitter(scheduler.source, store, SplitStore(store.store), split_embedder)
    app = shell.app(build_router(scheduler), build_split_router(splitter))
    app.state.splitter = splitter
    return app, shell.stages, runtime
