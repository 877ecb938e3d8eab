"""The embedder's HTTP API: vectors of ad-hoc texts (nothing is stored)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rft_embedder.core import embed_texts
from rft_embedder.models import Embedder

MAX_TEXTS = 2048


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)


class EmbedResponse(BaseModel):
    model: str
    dimensions: int
    vectors: list[list[float]] = Field(description="one L2-normalized vector per text, in order")


def build_router(embedder: Embedder) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["embedder"])

    @router.post("/embed", response_model=EmbedResponse)
    async def embed(request: EmbedRequest) -> EmbedResponse:
        vectors = await asyncio.to_thread(embed_texts, request.texts, embedder)
        return EmbedResponse(model=embedder.name, dimensions=embedder.dimensions, vectors=vectors)

    return router
