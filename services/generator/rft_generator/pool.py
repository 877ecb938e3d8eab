"""The real prompts of each topic with their vectors: where few-shot examples come from.

Vectors are read from the dataset's collection (the embedder stored them under the prompt's
point id); a prompt not embedded yet is embedded here and stored the same way, so novelty
checks see it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rft_runtime.embedding.model import Embedder
from rft_runtime.embedding.points import embedding_key, prompt_payload
from rft_runtime.embedding.text import PromptEmbeddingSettings, task_text
from rft_runtime.vectorstore import VectorCollection, VectorPoint, point_id
from rft_schemas import CategorizedPrompt, CoverageReport, SanitizedPrompt

OTHER_TOPIC = "other"


def topic_key(path: Sequence[str]) -> str:
    return "/".join(path)


def in_topic(prompt_topic: str, target: str) -> bool:
    """A prompt of ``a/b`` belongs to target ``a`` and to target ``a/b``."""
    return prompt_topic == target or prompt_topic.startswith(target + "/")


@dataclass
class TopicPool:
    topic: str
    prompts: list[SanitizedPrompt]
    vectors: NDArray[np.float32]


def targets_from_coverage(report: CoverageReport) -> dict[str, int]:
    """Coverage's recommendation: the deepest topics with something to generate, 'other' left out
    (a parent's recommendation is the sum its children already carry)."""
    wanted = {
        topic_key(t.path): t.recommended_generate
        for t in report.topics
        if t.recommended_generate > 0 and t.path and t.path[0] != OTHER_TOPIC
    }
    return {
        key: n for key, n in wanted.items()
        if not any(other.startswith(key + "/") for other in wanted)
    }


def recommended_targets(report: CoverageReport, cap: int | None) -> dict[str, int]:
    """A job's default targets, for the CLI and the service alike: coverage's recommendation,
    at most ``cap`` new prompts per topic (``RFT_GENERATOR_MAX_NEW_PER_TOPIC``) when set."""
    targets = targets_from_coverage(report)
    if cap is None:
        return targets
    return {topic: min(count, cap) for topic, count in targets.items()}


def prompt_vectors(
    prompts: Sequence[SanitizedPrompt],
    collection: VectorCollection,
    embedder: Embedder,
    embed_settings: PromptEmbeddingSettings,
) -> NDArray[np.float32]:
    """One vector per prompt, from the store, embedding (and storing) those it lacks."""
    ids = [point_id(p.id) for p in prompts]
    stored = {
        point.id: point.vector
        for start in range(0, len(ids), 512)
        for point in collection.retrieve(ids[start : start + 512], with_vectors=True)
    }
    missing = [i for i, pid in enumerate(ids) if stored.get(pid) is None]
    if missing:
        texts = [task_text(prompts[i], embed_settings.task_text, embed_settings.max_text_chars)
                 for i in missing]
        vectors = embedder.embed(texts)
        collection.upsert([
            VectorPoint(ids[i], vectors[row],
                        prompt_payload(prompts[i], embedding_key(embedder.name, texts[row])))
            for row, i in enumerate(missing)
        ])
        for row, i in enumerate(missing):
            stored[ids[i]] = [float(x) for x in vectors[row]]
    if not prompts:
        return np.zeros((0, collection.spec.dimensions), dtype=np.float32)
    return np.asarray([stored[pid] for pid in ids], dtype=np.float32)


def synthetic_point(
    prompt: SanitizedPrompt, topic: str, vector: NDArray[np.float32], embedding_of: str
) -> VectorPoint:
    payload = prompt_payload(prompt, embedding_of, topic=topic)
    return VectorPoint(point_id(prompt.id), vector, payload)


def build_pools(
    categorized: Sequence[CategorizedPrompt],
    targets: Mapping[str, int],
    collection: VectorCollection,
    embedder: Embedder,
    embed_settings: PromptEmbeddingSettings,
) -> tuple[dict[str, TopicPool], dict[str, NDArray[np.float32]]]:
    """Pools for the targeted topics, and every leaf topic's vectors (for the topic check)."""
    real = [c for c in categorized if c.prompt.origin == "trace" and not c.uncategorized]
    vectors = prompt_vectors([c.prompt for c in real], collection, embedder, embed_settings)
    keys = [topic_key(c.topic_path) or OTHER_TOPIC for c in real]
    by_leaf: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        by_leaf.setdefault(key, []).append(row)
    leaf_vectors = {key: vectors[rows] for key, rows in by_leaf.items()}
    pools = {}
    for target in targets:
        rows = [row for row, key in enumerate(keys) if in_topic(key, target)]
        pools[target] = TopicPool(target, [real[r].prompt for r in rows], vectors[rows])
    return pools, leaf_vectors
