"""Steps B, C, D on one machine (what `rft` runs): prompts from files, vectors in Qdrant Edge.

The same runner as the service: prompt vectors go into the dataset's collection once (a
prompt already stored is not embedded again, so discovery, categorization and a
re-categorization after an edit share one embedding pass). Embedding and storing the missing
ones is the caller's (the ``rft`` CLI binds the embedder's ``embed_prompts`` to its model), so
this module needs no model either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rft_categorizer.categorize import categorize_prompts, standing_decisions
from rft_categorizer.runner import CategorizeRunner
from rft_runtime.embedding.points import embedding_key
from rft_runtime.embedding.text import PromptEmbeddingSettings, task_text
from rft_runtime.vectorstore import point_id
from rft_schemas.topics import CategorizedPrompt, EmbeddedPrompt, TopicHierarchy
from rft_schemas.traces import SanitizedPrompt

CHUNK = 256


def read_prompts(path: Path) -> list[SanitizedPrompt]:
    with path.open(encoding="utf-8") as lines:
        return [SanitizedPrompt.model_validate_json(line) for line in lines if line.strip()]


class EmbedResult(Protocol):
    """What embedding a batch did (``rft_embedder.core.EmbedOutcome``)."""

    @property
    def embedded(self) -> Sequence[EmbeddedPrompt]:
        """The prompts now stored, each with the text its vector was computed from."""

    @property
    def near_duplicates(self) -> int: ...


EmbedMissing = Callable[[Sequence[SanitizedPrompt]], EmbedResult]
"""Embeds prompts and upserts their points into their dataset's collection: the embedder's
``embed_prompts`` bound to a model, the store and the embedder's settings."""


@dataclass(frozen=True)
class Embedded:
    prompts: list[SanitizedPrompt]
    texts: list[str]
    newly_embedded: int
    near_duplicates: int
    """Of the newly embedded: within the cosine threshold of an earlier prompt (kept, marked,
    unless the embedder drops them)."""


def ensure_embedded(
    runner: CategorizeRunner,
    prompts: Sequence[SanitizedPrompt],
    settings: PromptEmbeddingSettings,
    progress: Callable[[int], None] | None = None,
    *,
    embed_missing: EmbedMissing,
) -> Embedded:
    """Embed the prompts whose points are missing or stale (computed from another text or
    model) with ``embed_missing``; return the stored prompts and their texts. ``settings``
    name each prompt's text, as ``embed_missing`` embeds it (the same settings), and
    ``runner.embedder`` its model.

    Near-duplicates dropped by setting are left out of the result (they are not stored).
    """
    texts: dict[str, str] = {}
    newly_embedded = near_duplicates = 0
    for start in range(0, len(prompts), CHUNK):
        chunk = list(prompts[start : start + CHUNK])
        by_dataset: dict[str, list[SanitizedPrompt]] = {}
        for p in chunk:
            by_dataset.setdefault(p.dataset, []).append(p)
        for dataset, group in by_dataset.items():
            points = runner.collection(dataset).retrieve([point_id(p.id) for p in group])
            stored = {s.id: s.payload.get("embedding_of") for s in points}
            current = {p.id: _text_of(p, settings) for p in group}
            name = runner.embedder.name
            missing = [p for p in group
                       if stored.get(point_id(p.id)) != embedding_key(name, current[p.id])]
            if missing:
                outcome = embed_missing(missing)
                texts.update((e.prompt.id, e.embedded_text) for e in outcome.embedded)
                near_duplicates += outcome.near_duplicates
                newly_embedded += len(outcome.embedded)
            for p in group:
                if point_id(p.id) in stored:
                    texts.setdefault(p.id, current[p.id])
        if progress:
            progress(len(chunk))
    kept = [p for p in prompts if p.id in texts]
    return Embedded(kept, [texts[p.id] for p in kept], newly_embedded, near_duplicates)


def _text_of(prompt: SanitizedPrompt, settings: PromptEmbeddingSettings) -> str:
    return task_text(prompt, settings.task_text, settings.max_text_chars)


def categorize_all(
    runner: CategorizeRunner,
    hierarchy: TopicHierarchy,
    prompts: Sequence[SanitizedPrompt],
    progress: Callable[[list[CategorizedPrompt]], None] | None = None,
) -> list[CategorizedPrompt]:
    """Every prompt of one dataset against ``hierarchy``, in chunks for a live display.

    Each chunk is scored with the rest of the dataset as its pool, which is the same graph as
    scoring all at once; the classifier is fitted once on the whole dataset.
    """
    if not prompts:
        return []
    vectors = runner.vectors(hierarchy.dataset, [point_id(p.id) for p in prompts])
    classifier = runner.classifier(hierarchy, vectors)
    rules = runner.settings.decision_rules()
    records: list[CategorizedPrompt] = []
    for start in range(0, len(prompts), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(prompts)))
        pool = np.delete(vectors, rows, axis=0) if len(rows) < len(vectors) else None
        chunk = categorize_prompts(
            prompts[start : rows[-1] + 1], vectors[rows], classifier, hierarchy.version,
            pool=pool, rules=rules,
        )
        runner.write_topics(hierarchy.dataset, chunk)
        records.extend(chunk)
        if progress:
            progress(chunk)
    return records


def keep_decisions(
    runner: CategorizeRunner,
    hierarchy: TopicHierarchy,
    records: Sequence[CategorizedPrompt],
    previous: Mapping[str, CategorizedPrompt],
) -> tuple[list[CategorizedPrompt], list[CategorizedPrompt]]:
    """A person's decision among ``previous`` (prompt id -> its last record) outlives
    re-categorization while its topic is still a leaf, as in the service: ``records`` with
    those decisions in place, and the decisions (written to the store's payloads too)."""
    decided = standing_decisions((previous.get(r.prompt.id) for r in records), hierarchy)
    if not decided:
        return list(records), []
    runner.write_topics(hierarchy.dataset, list(decided.values()))
    return [decided.get(r.prompt.id, r) for r in records], list(decided.values())
