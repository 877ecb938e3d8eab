"""The embedder's HTTP API: vectors of ad-hoc texts (nothing is stored), and the model they
come from (``GET /v1/embedder``: its name and dimensions, what a client such as
:class:`rft_runtime.embedding.http.HttpEmbedder` keys and sizes stored vectors by).

A request is bounded three ways (settings): its body in bytes (a 413, by the app's body limit),
its number of texts, and each text's length in characters (a 422 naming the text). A text
within them is still cut to the model's window before it is tokenized (see
:func:`rft_embedder.encoding.window_prefix`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from rft_embedder.core import embed_texts
from rft_embedder.models import Embedder
from rft_embedder.settings import EmbedderSettings
from rft_runtime.embedding.http import EmbedderInfo


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1)


class EmbedResponse(BaseModel):
    model: str
    dimensions: int
    vectors: list[list[float]] = Field(description="one L2-normalized vector per text, in order")


def build_router(embedder: Embedder, settings: EmbedderSettings | None = None) -> APIRouter:
    settings = settings or EmbedderSettings()
    router = APIRouter(prefix="/v1", tags=["embedder"])

    @router.post("/embed", response_model=EmbedResponse)
    async def embed(request: EmbedRequest) -> EmbedResponse:
        refuse_oversized(request.texts, settings)
        vectors = await asyncio.to_thread(embed_texts, request.texts, embedder)
        return EmbedResponse(model=embedder.name, dimensions=embedder.dimensions, vectors=vectors)

    @router.get("/embedder", response_model=EmbedderInfo)
    async def info() -> EmbedderInfo:
        # the name every stored vector is keyed by (embedding_key): a client that embeds
        # through this service keys its own vectors the same way
        return EmbedderInfo(model=embedder.name, dimensions=embedder.dimensions)

    return router


def refuse_oversized(texts: list[str], settings: EmbedderSettings) -> None:
    """A 422 in the shape of any validation error when there are too many texts or one is too
    long (limits that are settings, so not in the model's static constraints)."""
    errors: list[dict[str, Any]] = []
    if len(texts) > settings.http_max_texts:
        errors.append({
            "type": "too_long", "loc": ("body", "texts"),
            "msg": f"at most {settings.http_max_texts} texts per request, got {len(texts)}",
        })
    errors += [
        {
            "type": "string_too_long", "loc": ("body", "texts", index),
            "msg": f"a text is at most {settings.http_max_text_chars} characters, "
                   f"this one has {len(text)}",
        }
        for index, text in enumerate(texts)
        if len(text) > settings.http_max_text_chars
    ]
    if errors:
        raise RequestValidationError(errors)
