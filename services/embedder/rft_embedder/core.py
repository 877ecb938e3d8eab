"""Embed sanitized prompts into the dataset's collection and mark near-duplicates.

Replays are idempotent: point ids come from prompt ids, and a prompt already in the store keeps
the near-duplicate decision stored with it, so a stage that re-reads a batch after a crash
writes the same points and emits the same records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from rft_embedder.models import Embedder
from rft_embedder.settings import EmbedderSettings

# A prompt's point (collection, payload, key) and its task text are the runtime's: the generator
# writes the same points without the model. Named here too.
from rft_runtime.embedding.points import (
    PROMPT_INDEXES,
    embedding_key,
    prompt_collection_spec,
    prompt_payload,
)
from rft_runtime.embedding.text import task_text
from rft_runtime.vectorstore import VectorCollection, VectorPoint, VectorStore, point_id
from rft_schemas import EmbeddedPrompt, Rejection, RejectionReason, SanitizedPrompt

__all__ = [
    "PROMPT_INDEXES", "STAGE", "EmbedOutcome", "embed_prompts", "embed_texts", "embedding_key",
    "prompt_collection_spec", "prompt_payload",
]

STAGE = "embedder"


@dataclass
class EmbedOutcome:
    """What one call did: the records to emit, the near-duplicates dropped, and counts."""

    embedded: list[EmbeddedPrompt] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    near_duplicates_by_dataset: Counter[str] = field(default_factory=Counter)
    """Near-duplicates found, whether kept (marked) or dropped (rejected)."""

    @property
    def near_duplicates(self) -> int:
        return sum(self.near_duplicates_by_dataset.values())

    def extend(self, other: EmbedOutcome) -> None:
        self.embedded.extend(other.embedded)
        self.rejected.extend(other.rejected)
        self.near_duplicates_by_dataset.update(other.near_duplicates_by_dataset)


@dataclass(frozen=True)
class _Original:
    prompt_id: str
    score: float


def embed_prompts(
    prompts: Sequence[SanitizedPrompt],
    embedder: Embedder,
    store: VectorStore,
    settings: EmbedderSettings,
) -> EmbedOutcome:
    """Embed each prompt's task text, upsert it into its dataset's collection, in micro-batches.

    A prompt within ``near_duplicate_threshold`` cosine of an earlier, not-duplicate prompt of
    the same dataset gets ``near_duplicate_of``; with ``drop_near_duplicates`` it becomes a
    ``near_duplicate`` rejection instead and is not stored. Order of ``prompts`` is "earlier".
    """
    outcome = EmbedOutcome()
    for dataset, group in _by_dataset(prompts):
        collection = store.ensure_collection(
            prompt_collection_spec(dataset, embedder.dimensions, settings.collection_prefix)
        )
        for start in range(0, len(group), settings.micro_batch_size):
            batch = group[start : start + settings.micro_batch_size]
            outcome.extend(_embed_batch(batch, dataset, embedder, collection, settings))
    return outcome


def _by_dataset(prompts: Sequence[SanitizedPrompt]) -> Iterator[tuple[str, list[SanitizedPrompt]]]:
    groups: dict[str, list[SanitizedPrompt]] = {}
    for prompt in prompts:
        groups.setdefault(prompt.dataset, []).append(prompt)
    yield from groups.items()


def _embed_batch(
    batch: Sequence[SanitizedPrompt],
    dataset: str,
    embedder: Embedder,
    collection: VectorCollection,
    settings: EmbedderSettings,
) -> EmbedOutcome:
    texts = [task_text(p, settings.task_text, settings.max_text_chars) for p in batch]
    vectors = embedder.embed(texts)
    ids = [point_id(p.id) for p in batch]
    # A prompt already stored (a replay) keeps the decision made when it was first embedded.
    decided: dict[str, str | None] = {
        stored.id: stored.payload.get("near_duplicate_of") for stored in collection.retrieve(ids)
    }
    originals: list[tuple[str, int]] = []  # (prompt id, row) of this batch's non-duplicates
    outcome = EmbedOutcome()
    points: list[VectorPoint] = []
    for row, (prompt, text, pid) in enumerate(zip(batch, texts, ids, strict=True)):
        if pid in decided:
            duplicate_of, original = decided[pid], None
        else:
            original = _nearest_original(
                vectors[row], pid, dataset, collection, vectors, originals, settings
            )
            duplicate_of = original.prompt_id if original else None
            decided[pid] = duplicate_of
        if duplicate_of is None:
            originals.append((prompt.id, row))
        else:
            outcome.near_duplicates_by_dataset[dataset] += 1
            if settings.drop_near_duplicates:
                outcome.rejected.append(_rejection(prompt, text, duplicate_of, original))
                continue
        points.append(
            VectorPoint(
                id=pid,
                vector=vectors[row],
                payload=prompt_payload(
                    prompt, embedding_key(embedder.name, text), near_duplicate_of=duplicate_of
                ),
            )
        )
        outcome.embedded.append(
            EmbeddedPrompt(
                prompt=prompt,
                model=embedder.name,
                point_id=pid,
                dimensions=embedder.dimensions,
                embedded_text=text,
                near_duplicate_of=duplicate_of,
            )
        )
    collection.upsert(points)
    return outcome


def _nearest_original(
    vector: np.ndarray,
    pid: str,
    dataset: str,
    collection: VectorCollection,
    vectors: np.ndarray,
    originals: Sequence[tuple[str, int]],
    settings: EmbedderSettings,
) -> _Original | None:
    """The closest earlier non-duplicate prompt at or above the threshold, if any.

    Only non-duplicates count as originals, so chains (c copies b copies a) all point at a.
    """
    best: _Original | None = None
    hits = collection.query(vector, limit=2, filter={"dataset": dataset, "near_duplicate_of": None})
    for hit in hits:
        if hit.id != pid and hit.score is not None:
            best = _Original(str(hit.payload["prompt_id"]), hit.score)
            break
    if originals:
        rows = [row for _, row in originals]
        scores = vectors[rows] @ vector
        top = int(np.argmax(scores))
        if best is None or float(scores[top]) > best.score:
            best = _Original(originals[top][0], float(scores[top]))
    if best is not None and best.score >= settings.near_duplicate_threshold:
        return best
    return None


def _rejection(
    prompt: SanitizedPrompt, text: str, duplicate_of: str, original: _Original | None
) -> Rejection:
    score = f"cosine {original.score:.3f} " if original else ""
    return Rejection(
        id=prompt.id,
        dataset=prompt.dataset,
        stage=STAGE,
        reason=RejectionReason.NEAR_DUPLICATE,
        detail=f"{score}to prompt {duplicate_of}",
        source=prompt.lineage.source,
        excerpt=text[:200],
        duplicate_of=duplicate_of,
        trace_id=prompt.lineage.trace_id,
    )


def embed_texts(texts: Sequence[str], embedder: Embedder) -> list[list[float]]:
    """Vectors of ad-hoc texts, JSON-ready (what ``POST /v1/embed`` answers); nothing is stored."""
    return [[float(x) for x in row] for row in embedder.embed(list(texts))]
