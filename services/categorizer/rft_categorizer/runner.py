"""What every categorizer shell shares: topic vectors, prompt vectors read back from Qdrant,
the fitted classifier, and the topic written to each prompt's Qdrant payload.

Prompts are never embedded here: their vectors are read from the store by point id (the
embedder put them there), so re-categorizing after a hierarchy edit costs only the topics'
texts (a few per leaf), embedded once per hierarchy.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from rft_categorizer.categorize import (
    categorize_prompts,
    classify_vectors,
    fit_hierarchy_classifier,
    topic_texts,
)
from rft_categorizer.classifier import TopicClassifier, Vectors, leaf_vectors_from
from rft_categorizer.coverage import topic_key
from rft_categorizer.discovery import DiscoveredTopics, discover_topics
from rft_categorizer.labeling import TopicLabeler
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.trace_names import trace_hints
from rft_runtime.embedding.model import Embedder
from rft_runtime.embedding.points import prompt_collection_spec
from rft_runtime.vectorstore import Payload, VectorCollection, VectorStore, point_id
from rft_schemas.topics import CategorizedPrompt, TopicDecision, TopicHierarchy
from rft_schemas.traces import SanitizedPrompt

POOL_ROWS = 2000
"""Stored vectors of the dataset used as the unlabelled pool when a few prompts arrive: enough
to center the space and carry labels along the graph, few enough to keep a batch fast."""

CACHED_CLASSIFIERS = 16


class MissingVectorsError(LookupError):
    """Prompts whose points are not in the store (the embedder has not written them)."""


def topic_payload(record: CategorizedPrompt) -> Payload:
    """The keys coverage facets and filters over; ``topic`` is the leaf's ``a/b`` key."""
    return {
        "topic": topic_key(record.topic_path),
        "topic_path": list(record.topic_path),
        "confidence": record.confidence,
        "method": record.method.value,
        "needs_review": record.needs_review,
        "hierarchy_version": record.hierarchy_version,
    }


def write_topic_payloads(
    collection: VectorCollection, records: Sequence[CategorizedPrompt]
) -> None:
    """Each prompt's topic into its point's payload (merged: the embedder's keys stay)."""
    for record in records:
        collection.set_payload([point_id(record.prompt.id)], topic_payload(record))


def hierarchy_fingerprint(hierarchy: TopicHierarchy) -> str:
    """Identifies what the classifier learns from: the tree's names, descriptions and examples."""
    topics = "".join(t.model_dump_json() for t in hierarchy.topics)
    return hashlib.sha256(f"{hierarchy.dataset}|{topics}".encode()).hexdigest()


class CategorizeRunner:
    def __init__(
        self,
        embedder: Embedder,
        store: VectorStore,
        settings: CategorizerSettings,
        collection_prefix: str = "prompts",
        pool_rows: int = POOL_ROWS,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.settings = settings
        self.collection_prefix = collection_prefix
        self.pool_rows = pool_rows
        self._topic_vectors: dict[str, dict[tuple[str, ...], Vectors]] = {}
        self._fitted: dict[str, tuple[int, TopicClassifier]] = {}
        self._lock = threading.Lock()

    def collection(self, dataset: str) -> VectorCollection:
        spec = prompt_collection_spec(dataset, self.embedder.dimensions, self.collection_prefix)
        return self.store.ensure_collection(spec)

    def vectors(self, dataset: str, point_ids: Sequence[str]) -> Vectors:
        """The stored vectors of ``point_ids``, in their order."""
        if not point_ids:
            return np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        found = {
            p.id: p.vector
            for p in self.collection(dataset).retrieve(list(point_ids), with_vectors=True)
        }
        missing = [pid for pid in point_ids if found.get(pid) is None]
        if missing:
            raise MissingVectorsError(f"{len(missing)} points not in the store, e.g. {missing[0]}")
        return np.asarray([found[pid] for pid in point_ids], dtype=np.float32)

    def pool(self, dataset: str) -> Vectors | None:
        """Up to ``pool_rows`` stored vectors of the dataset (the first pages in id order,
        which are uniformly spread since point ids are hashes)."""
        collection = self.collection(dataset)
        rows: list[list[float]] = []
        offset: str | None = None
        while len(rows) < self.pool_rows:
            page = collection.scroll(
                limit=min(512, self.pool_rows - len(rows)), offset=offset, with_vectors=True
            )
            rows.extend(p.vector for p in page.points if p.vector is not None)
            offset = page.next_offset
            if offset is None:
                break
        return np.asarray(rows, dtype=np.float32) if rows else None

    def leaf_vectors(self, hierarchy: TopicHierarchy) -> dict[tuple[str, ...], Vectors]:
        """The embedded description and examples of each leaf, once per hierarchy content."""
        key = hierarchy_fingerprint(hierarchy)
        with self._lock:
            cached = self._topic_vectors.get(key)
        if cached is not None:
            return cached
        texts = topic_texts(hierarchy)
        paths = list(texts)
        flat = [text for path in paths for text in texts[path]]
        owners = [i for i, path in enumerate(paths) for _ in texts[path]]
        embedded = self.embedder.embed(flat) if flat else np.zeros((0, self.embedder.dimensions))
        leaf_vectors = leaf_vectors_from(paths, np.asarray(embedded, np.float32), owners)
        with self._lock:
            if len(self._topic_vectors) >= CACHED_CLASSIFIERS:
                self._topic_vectors.pop(next(iter(self._topic_vectors)))
            self._topic_vectors[key] = leaf_vectors
        return leaf_vectors

    def classifier(self, hierarchy: TopicHierarchy, pool: Vectors | None) -> TopicClassifier:
        return fit_hierarchy_classifier(
            hierarchy, self.leaf_vectors(hierarchy), pool, self.settings.classifier_params()
        )

    def categorize(
        self,
        hierarchy: TopicHierarchy,
        prompts: Sequence[SanitizedPrompt],
        point_ids: Sequence[str] | None = None,
        *,
        whole_dataset: bool = False,
        classifier: TopicClassifier | None = None,
    ) -> list[CategorizedPrompt]:
        """Categorize ``prompts`` of ``hierarchy.dataset`` from their stored vectors.

        ``whole_dataset``: ``prompts`` are all of the dataset, so they are their own pool;
        otherwise a sample of the dataset's stored vectors is the pool.
        """
        if not prompts:
            return []
        ids = list(point_ids) if point_ids is not None else [point_id(p.id) for p in prompts]
        vectors = self.vectors(hierarchy.dataset, ids)
        if whole_dataset:
            classifier = classifier or self.classifier(hierarchy, vectors)
            pool = None
        else:
            pool = self.pool(hierarchy.dataset)
            classifier = classifier or self._streaming_classifier(hierarchy, pool)
        return categorize_prompts(
            prompts,
            vectors,
            classifier,
            hierarchy.version,
            pool=pool,
            rules=self.settings.decision_rules(),
        )

    def classify(self, hierarchy: TopicHierarchy, vectors: Vectors) -> list[TopicDecision]:
        """Step C's decision for vectors that are not (yet) in the store, e.g. step E's
        candidates: scored as a batch of arriving prompts is (the dataset's stored vectors as
        the pool, the classifier fitted for streaming, cached per hierarchy)."""
        if not len(vectors):
            return []
        pool = self.pool(hierarchy.dataset)
        classifier = self._streaming_classifier(hierarchy, pool)
        return classify_vectors(classifier, vectors, pool, self.settings.decision_rules())

    def _streaming_classifier(
        self, hierarchy: TopicHierarchy, pool: Vectors | None
    ) -> TopicClassifier:
        """The classifier for prompts arriving a batch at a time: fitted again only when the
        pool it was fitted with has doubled (or reached its cap), since a fit costs far more
        than scoring one batch and a few more pool rows barely move it."""
        key = hierarchy_fingerprint(hierarchy)
        rows = 0 if pool is None else len(pool)
        with self._lock:
            fitted = self._fitted.get(key)
        if fitted is not None and (rows <= 2 * fitted[0] or fitted[0] >= self.pool_rows):
            return fitted[1]
        classifier = self.classifier(hierarchy, pool)
        with self._lock:
            if len(self._fitted) >= CACHED_CLASSIFIERS:
                self._fitted.pop(next(iter(self._fitted)))
            self._fitted[key] = (max(rows, 1), classifier)
        return classifier

    async def discover(
        self,
        dataset: str,
        prompts: Sequence[SanitizedPrompt],
        point_ids: Sequence[str],
        texts: Sequence[str],
        labeler: TopicLabeler | None,
        label_timeout_s: float | None = None,
        min_leaves: int | None = None,
    ) -> DiscoveredTopics:
        """Step B: cluster the stored vectors of ``prompts`` (``texts``: what was embedded for
        each) into a named two-level tree, not yet saved. Names come from ``labeler`` when it
        answers, else from the prompts' tools and domains, keyphrases or keywords.
        ``min_leaves``: at least this many leaf topics, when the user knows (ClusterParams).

        The prompts are taken in the order of their ids, not as given: clustering depends on
        its input's order, and `rft run` gives a file's order while the service gives the
        order the stream delivered (interleaved across partitions)."""
        order = sorted(range(len(prompts)), key=lambda i: prompts[i].id)
        prompts = [prompts[i] for i in order]
        point_ids = [point_ids[i] for i in order]
        texts = [texts[i] for i in order]
        vectors = self.vectors(dataset, point_ids)
        return await discover_topics(
            dataset,
            list(texts),
            vectors,
            labeler,
            replace(self.settings.cluster_params(), min_leaves=min_leaves),
            examples_per_topic=self.settings.topics_examples,
            label_timeout_s=(
                self.settings.topics_label_timeout_s if label_timeout_s is None else label_timeout_s
            ),
            embed=lambda phrases: self.embedder.embed(phrases),
            hints=[trace_hints(p) for p in prompts],
        )

    def write_topics(self, dataset: str, records: Sequence[CategorizedPrompt]) -> None:
        """Each prompt's topic into its point's payload (merged: the embedder's keys stay)."""
        write_topic_payloads(self.collection(dataset), records)

    def topic_counts(self, dataset: str) -> dict[str, int]:
        """Prompts per leaf topic key, counted by Qdrant (a facet over the indexed payload)."""
        facet = self.collection(dataset).facet("topic", filter={"dataset": dataset})
        return {str(k): v for k, v in facet.items()}
