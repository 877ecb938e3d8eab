"""The categorizer service's operations over its three stores (hierarchies, records, Qdrant).

The Kafka stage and the HTTP routes both call these, so a prompt categorized from the stream
and one re-categorized after an edit go through the same code. Methods are blocking (SQLite,
Qdrant Edge, the model): shells call them from worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rft_categorizer.categorize import (
    check_manual_topic,
    decide_topic,
    is_manual,
    standing_decisions,
    topic_texts,
)
from rft_categorizer.coverage import compute_coverage
from rft_categorizer.discovery import DiscoveredTopics
from rft_categorizer.hierarchy_store import HierarchyStore
from rft_categorizer.labeling import TopicLabeler
from rft_categorizer.record_store import RecordStore
from rft_categorizer.runner import CategorizeRunner
from rft_categorizer.second_opinion import TopicJudge, second_opinion
from rft_schemas.topics import (
    CategorizationMethod,
    CategorizedPrompt,
    CoverageReport,
    EmbeddedPrompt,
    TopicClassifyResponse,
    TopicHierarchy,
)


class UnknownDatasetError(LookupError):
    pass


class UnknownPromptError(LookupError):
    pass


class WrongDimensionsError(ValueError):
    """Vectors whose rows are not of the dimensions of the dataset's vectors."""


@dataclass(frozen=True)
class Recategorized:
    hierarchy: TopicHierarchy
    records: list[CategorizedPrompt]


class TopicService:
    def __init__(
        self, runner: CategorizeRunner, hierarchies: HierarchyStore, records: RecordStore
    ) -> None:
        self.runner = runner
        self.hierarchies = hierarchies
        self.records = records

    def categorize_embedded(self, batch: Sequence[EmbeddedPrompt]) -> list[CategorizedPrompt]:
        """Remember the batch; categorize the prompts of datasets that have a hierarchy.

        Prompts of a dataset without one wait in the record store: they are categorized (and
        emitted) when its hierarchy is set or discovered. A prompt a person has categorized
        keeps that decision when the stream delivers it again.
        """
        self.records.add_embedded(batch)
        out: list[CategorizedPrompt] = []
        for dataset in dict.fromkeys(r.prompt.dataset for r in batch):
            hierarchy = self.hierarchies.current(dataset)
            if hierarchy is None:
                continue
            ids = [r.prompt.id for r in batch if r.prompt.dataset == dataset]
            stored = self.records.prompts(dataset, ids)
            manual = [
                s.categorized
                for s in stored
                if s.categorized and s.categorized.method is CategorizationMethod.MANUAL
            ]
            todo = [s for s in stored if not is_manual(s.categorized)]
            fresh = self.runner.categorize(
                hierarchy, [s.prompt for s in todo], [s.point_id for s in todo]
            )
            self.runner.write_topics(dataset, fresh)
            self.records.set_categorized(fresh)
            out.extend(fresh)
            out.extend(m for m in manual if m is not None)
        return out

    def classify(
        self, dataset: str, vectors: Sequence[Sequence[float]]
    ) -> TopicClassifyResponse:
        """Step C's decision for each vector under the dataset's current hierarchy (the code
        ``rft generate`` runs in process: ``categorize.classify_vectors``). Raises
        :class:`UnknownDatasetError` without a hierarchy, :class:`WrongDimensionsError` for a
        row that is not of the embedder's dimensions."""
        hierarchy = self.hierarchies.current(dataset)
        if hierarchy is None:
            raise UnknownDatasetError(f"dataset {dataset!r} has no topic hierarchy")
        dimensions = self.runner.embedder.dimensions
        wrong = next((i for i, row in enumerate(vectors) if len(row) != dimensions), None)
        if wrong is not None:
            raise WrongDimensionsError(
                f"row {wrong} has {len(vectors[wrong])} dimensions; the vectors of dataset "
                f"{dataset!r} have {dimensions}"
            )
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), dimensions)
        return TopicClassifyResponse(
            dataset=dataset,
            hierarchy_version=hierarchy.version,
            decisions=self.runner.classify(hierarchy, matrix),
        )

    async def review_uncertain(
        self, records: Sequence[CategorizedPrompt], texts: Mapping[str, str], judge: TopicJudge
    ) -> list[CategorizedPrompt]:
        """The LLM's second opinion on the records under the review threshold (``texts``:
        prompt id -> the embedded text); what it changes is stored like any decision."""
        reviewed = {r.prompt.id: r for r in records}
        below = self.runner.settings.categorize_review_below
        for dataset in dict.fromkeys(r.prompt.dataset for r in records):
            hierarchy = await asyncio.to_thread(self.hierarchies.current, dataset)
            mine = [r for r in records if r.prompt.dataset == dataset]
            if hierarchy is None:
                continue
            answers = await second_opinion(
                mine, [texts.get(r.prompt.id, "") for r in mine], hierarchy, judge, below=below
            )
            changed = [new for old, new in zip(mine, answers, strict=True) if new != old]
            if changed:
                await asyncio.to_thread(self._store_decisions, dataset, changed)
            reviewed.update((r.prompt.id, r) for r in changed)
        return [reviewed[r.prompt.id] for r in records]

    def _store_decisions(self, dataset: str, records: list[CategorizedPrompt]) -> None:
        self.runner.write_topics(dataset, records)
        self.records.set_categorized(records)

    def set_hierarchy(self, hierarchy: TopicHierarchy) -> Recategorized:
        """Save ``hierarchy`` as the next version and re-categorize every prompt of the dataset
        from its stored vector. Manual decisions stay when their topic is still a leaf."""
        # Refuse before saving: a stored hierarchy nothing can be categorized into would make
        # every later batch of the dataset fail.
        if not topic_texts(hierarchy):
            raise ValueError("the hierarchy has no topic to categorize into (only 'other' or "
                             "nothing): nothing was saved")
        current = self.hierarchies.current(hierarchy.dataset)
        if current is not None and _same_topics(current, hierarchy):
            return Recategorized(current, [])  # an edit that changes nothing is no new version
        saved = self.hierarchies.save(hierarchy)
        return Recategorized(saved, self.recategorize(saved))

    def recategorize(self, hierarchy: TopicHierarchy) -> list[CategorizedPrompt]:
        stored = self.records.prompts(hierarchy.dataset)
        decided = standing_decisions((s.categorized for s in stored), hierarchy)
        keep = list(decided.values())
        todo = [s for s in stored if s.prompt.id not in decided]
        fresh = self.runner.categorize(
            hierarchy,
            [s.prompt for s in todo],
            [s.point_id for s in todo],
            whole_dataset=True,
        )
        self.runner.write_topics(hierarchy.dataset, [*fresh, *keep])
        self.records.set_categorized([*fresh, *keep])
        return [*fresh, *keep]

    async def discover(
        self, dataset: str, labeler: TopicLabeler | None, label_timeout_s: float,
        min_leaves: int | None = None,
    ) -> DiscoveredTopics:
        """Cluster the dataset's stored vectors into a named two-level tree (not yet saved);
        ``min_leaves``: at least this many leaf topics."""
        stored = self.records.prompts(dataset)
        if not stored:
            raise UnknownDatasetError(f"no embedded prompts in dataset {dataset!r}")
        return await self.runner.discover(
            dataset,
            [s.prompt for s in stored],
            [s.point_id for s in stored],
            [s.embedded_text for s in stored],
            labeler,
            label_timeout_s,
            min_leaves,
        )

    def set_topic(self, dataset: str, prompt_id: str, path: Sequence[str]) -> CategorizedPrompt:
        """A reviewer's decision (method manual, confidence 1); the path must be a leaf."""
        hierarchy = self.hierarchies.current(dataset)
        if hierarchy is None:
            raise UnknownDatasetError(f"dataset {dataset!r} has no topic hierarchy")
        # the topic first (HierarchyEditError: no such topic, ValueError: not a leaf)
        check_manual_topic(hierarchy, path)
        stored = self.records.prompts(dataset, [prompt_id])
        if not stored or stored[0].categorized is None:
            raise UnknownPromptError(f"no categorized prompt {prompt_id!r} in {dataset!r}")
        record = decide_topic(stored[0].categorized, hierarchy, path)
        self.runner.write_topics(dataset, [record])
        self.records.set_categorized([record])
        return record

    def coverage(
        self,
        dataset: str,
        targets: dict[str, int] | None = None,
        total_target: int | None = None,
    ) -> CoverageReport:
        hierarchy = self.hierarchies.current(dataset)
        if hierarchy is None:
            raise UnknownDatasetError(f"dataset {dataset!r} has no topic hierarchy")
        return compute_coverage(
            hierarchy,
            self.records.categorized(dataset),
            targets,
            total_target,
            self.runner.settings.coverage_highlight_below,
        )


def _same_topics(a: TopicHierarchy, b: TopicHierarchy) -> bool:
    ignore = {"version", "created_at", "source"}
    return a.model_dump(exclude=ignore) == b.model_dump(exclude=ignore)
