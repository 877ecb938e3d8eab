"""A categorizer service that has categorized a dataset as the stream does (embedded prompts
reach its stage), on Qdrant Edge shared with the generator as the cluster shares Qdrant."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from rft_categorizer.service import build_service as build_categorizer
from rft_categorizer.settings import CategorizerSettings
from rft_embedder import Embedder, EmbedderSettings, embed_prompts
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas import CategorizedPrompt


@dataclass
class CategorizerHolding:
    app: FastAPI
    settings: CategorizerSettings
    qdrant: EdgeVectorStore
    topics: Any  # the app's TopicService


async def categorizer_holding(
    dataset: str, tmp_path: Path, embedder: Embedder, categorized: list[CategorizedPrompt],
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> CategorizerHolding:
    """The caller closes ``qdrant``."""
    # Whatever loads the embedder from its settings gets the fixture's cached ONNX export.
    monkeypatch.setenv("RFT_EMBEDDER_BACKEND", "onnx")
    monkeypatch.setenv("RFT_EMBEDDER_ONNX_CACHE_DIR", str(request.config.cache.mkdir("rft-onnx")))
    qdrant = EdgeVectorStore(tmp_path / "qdrant")
    settings = CategorizerSettings(data_dir=tmp_path / "categorizer", log_json=False)
    app, _, _ = build_categorizer(settings, store=qdrant, embedder=embedder)
    topics = app.state.topics
    prompts = [c.prompt.model_copy(update={"dataset": dataset}) for c in categorized]
    embedded = embed_prompts(prompts, embedder, qdrant, EmbedderSettings()).embedded
    await asyncio.to_thread(topics.categorize_embedded, embedded)
    return CategorizerHolding(app, settings, qdrant, topics)
