"""A prompt's point in the vector store, wherever it is written (the embedder, the generator):
its collection, its payload, and the key that tells a stale vector from a fresh one."""

from __future__ import annotations

import hashlib

from rft_runtime.vectorstore import CollectionSpec, IndexKind, collection_name
from rft_schemas import SanitizedPrompt

__all__ = ["PROMPT_INDEXES", "embedding_key", "prompt_collection_spec", "prompt_payload"]

# Payload keys of a prompt point; the categorizer adds topic, confidence and split later.
PROMPT_INDEXES = {
    "dataset": IndexKind.KEYWORD,
    "origin": IndexKind.KEYWORD,
    "topic": IndexKind.KEYWORD,
    "near_duplicate_of": IndexKind.KEYWORD,
    "token_count": IndexKind.INTEGER,
}


def prompt_collection_spec(
    dataset: str, dimensions: int, prefix: str = "prompts"
) -> CollectionSpec:
    """The collection holding one dataset's prompt vectors (cosine, indexed for facets)."""
    return CollectionSpec(
        name=collection_name(prefix, dataset), dimensions=dimensions, indexed=PROMPT_INDEXES
    )


def embedding_key(model: str, text: str) -> str:
    """What a stored vector was computed from (model and text): a vector whose key differs
    from the current one is stale (another task-text setting, another model)."""
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()[:16]


def prompt_payload(
    prompt: SanitizedPrompt,
    embedding_of: str,
    near_duplicate_of: str | None = None,
    topic: str | None = None,
) -> dict[str, object]:
    """The payload of a prompt's point: ``embedding_of`` is its :func:`embedding_key`, which
    tells a stale vector from a fresh one."""
    return {
        "dataset": prompt.dataset,
        "prompt_id": prompt.id,
        "origin": prompt.origin,
        "token_count": prompt.token_count,
        "near_duplicate_of": near_duplicate_of,
        "embedding_of": embedding_of,
        **({"topic": topic} if topic else {}),
    }
