"""Assembles the categorizer service: stores, the embedder for topic texts, HTTP, Kafka stage.

Prompt vectors are read from the store (the embedder service wrote them); the texts the
categorizer embeds itself (topic descriptions and examples, keyphrase candidates) go to the
embedder service (``RFT_CATEGORIZER_EMBEDDER_URL``) or to an embedder its caller passes (the
``rft`` CLI's or the colocated vector-services process's model): the categorizer never loads
one, so its image carries no torch.
"""

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
from rft_runtime.embedding.http import HttpEmbedder
from rft_runtime.embedding.model import Embedder
from rft_runtime.embedding.text import PromptEmbeddingSettings
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


class EmbedderNotConfigured(RuntimeError):
    pass


def service_embedder(settings: CategorizerSettings) -> Embedder:
    """The embedder service's client, by ``RFT_CATEGORIZER_EMBEDDER_URL``."""
    if not settings.categorizer_embedder_url:
        raise EmbedderNotConfigured(
            "the categorizer needs the embedder service: set RFT_CATEGORIZER_EMBEDDER_URL "
            "(e.g. http://embedder.rft.svc:8000), or pass an embedder to build_service"
        )
    return HttpEmbedder(settings.categorizer_embedder_url,
                        settings.categorizer_embedder_timeout_s, settings.api_token)


def build_service(
    settings: CategorizerSettings | None = None,
    embedder_settings: PromptEmbeddingSettings | None = None,
    *,
    store: VectorStore | None = None,
    embedder: Embedder | None = None,
    llm: LLMSettings | None = None,
) -> tuple[FastAPI, list[KafkaStage[Any]], CategorizerSettings]:
    """``store``/``embedder`` may be shared with an embedder stage in the same process (Qdrant
    Edge opens a directory once per process; the model is loaded once). Without ``embedder``,
    the embedder service's client (:func:`service_embedder`: raises
    :class:`EmbedderNotConfigured` when its URL is unset, before anything starts).
    ``embedder_settings``: the collection prefix the embedder writes under (``RFT_EMBEDDER_*``)."""
    settings = settings or CategorizerSettings(service_name="categorizer")
    embedder_settings = embedder_settings or PromptEmbeddingSettings()
    embedder = embedder if embedder is not None else service_embedder(settings)
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
