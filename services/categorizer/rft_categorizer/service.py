"""Assembles the categorizer service: stores, the embedder for topic texts, HTTP, Kafka stage."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI

from rft_categorizer.api import LabelerFactory, build_router
from rft_categorizer.hierarchy_store import HierarchyStore
from rft_categorizer.labeling import TopicLabeler
from rft_categorizer.llm_labeler import LLMTopicLabeler
from rft_categorizer.record_store import RecordStore
from rft_categorizer.runner import CategorizeRunner
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.stage import build_stage
from rft_categorizer.topic_service import TopicService
from rft_embedder import Embedder, EmbedderSettings, load_embedder
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.llm import LLMClient, LLMSettings
from rft_runtime.shell import ServiceShell
from rft_runtime.vectorstore import VectorStore, open_vector_store
from rft_runtime.vectorstore.readiness import vector_store_ready


def configured_labeler(llm: LLMSettings) -> LabelerFactory:
    """The configured LLM endpoint as labeler; none configured: keyword labels. A service does
    not start the local model on a request (that is the CLI's default on one machine)."""

    async def labeler_for(stack: AsyncExitStack) -> TopicLabeler | None:
        if not llm.base_url:
            return None
        client = await stack.enter_async_context(LLMClient(llm))
        return LLMTopicLabeler(client)

    return labeler_for


def build_service(
    settings: CategorizerSettings | None = None,
    embedder_settings: EmbedderSettings | None = None,
    *,
    store: VectorStore | None = None,
    embedder: Embedder | None = None,
    llm: LLMSettings | None = None,
) -> tuple[FastAPI, list[KafkaStage[Any]], CategorizerSettings]:
    """``store``/``embedder`` may be shared with an embedder stage in the same process (Qdrant
    Edge opens a directory once per process)."""
    settings = settings or CategorizerSettings(service_name="categorizer")
    embedder_settings = embedder_settings or EmbedderSettings()
    embedder = embedder or load_embedder(embedder_settings, settings.data_dir)
    store = store or open_vector_store(settings)
    topics = TopicService(
        CategorizeRunner(embedder, store, settings, embedder_settings.collection_prefix),
        HierarchyStore(settings.hierarchy_store_target()),
        RecordStore(settings.record_store_target()),
    )

    shell = ServiceShell(settings, "rft categorizer")
    shell.ready_when("vectorstore", vector_store_ready(store))
    llm = llm or LLMSettings()
    if shell.streaming:
        judge = None
        if settings.categorize_llm_second_opinion and llm.base_url:
            client = LLMClient(llm)
            shell.manage(client)
            judge = LLMTopicLabeler(client)
        shell.consume(build_stage(settings, topics, judge))
    publish = shell.publisher()  # re-categorized records after an edit

    app = shell.app(build_router(topics, settings, publish, configured_labeler(llm)))
    app.state.topics = topics
    return app, shell.stages, settings
