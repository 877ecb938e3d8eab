"""Assembles the generator service: job store, scheduler, HTTP routes (generation jobs and
step F's split), Kafka stage.

With ``RFT_LLM_BASE_URL`` unset the service starts the local SmolLM2 server for its lifetime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from rft_embedder import EmbedderSettings, load_embedder
from rft_generator.api import build_router
from rft_generator.job_store import open_job_store
from rft_generator.jobs import JobScheduler
from rft_generator.runner import Publish
from rft_generator.settings import GeneratorSettings
from rft_generator.split_batch import TextEmbedder
from rft_generator.split_service import DatasetSplitter, build_split_router
from rft_generator.split_store import SplitStore
from rft_generator.stage import build_stage, prompt_outputs
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
            self.settings = self.settings.model_copy(update={"base_url": url})

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.stop)


def build_service(
    settings: GeneratorSettings | None = None,
    llm: LLMSettings | None = None,
    *,
    vector_store: VectorStore | None = None,
) -> tuple[FastAPI, list[KafkaStage[Any]], RuntimeSettings]:
    """``settings`` are the service's and its runtime's (one data dir, one broker).
    ``vector_store`` may be shared with the embedder and categorizer stages of the same
    process (Qdrant Edge opens a directory once per process)."""
    settings = settings or GeneratorSettings(service_name="generator")
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
        store, shared_vector_store, lambda: endpoint.settings, settings, publish
    )
    shell.manage(scheduler)  # after the endpoint and producer: resumed jobs need both
    if shell.streaming:
        shell.consume(build_stage(runtime, scheduler))

    def embedder() -> TextEmbedder:  # loaded on the first split (one model per process)
        return load_embedder(EmbedderSettings(), settings.data_dir)

    splitter = DatasetSplitter(scheduler.source, store, SplitStore(store.store), embedder)
    app = shell.app(build_router(scheduler), build_split_router(splitter))
    app.state.splitter = splitter
    return app, shell.stages, runtime
