"""Auto-generated topics: cluster a dataset's vectors into a two-level tree and name each topic."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rft_categorizer.clustering import OUTLIER, ClusterParams, TwoLevelClusters, cluster_two_levels
from rft_categorizer.coverage import OTHER_TOPIC
from rft_categorizer.keyphrases import Embed, cluster_keyphrases
from rft_categorizer.keywords import cluster_keywords, representative_indices
from rft_categorizer.labeling import (
    TopicLabel,
    TopicLabeler,
    label_topic,
    phrase_label,
    unique_name,
)
from rft_categorizer.trace_names import TraceHints, domain_labels, tool_label
from rft_schemas.topics import HierarchySource, Topic, TopicHierarchy

OTHER_DESCRIPTION = "Prompts that fit none of the discovered topics."


@dataclass(frozen=True)
class DiscoveredTopics:
    hierarchy: TopicHierarchy
    paths: list[tuple[str, ...]]
    """Per input row, the path of the topic it was clustered into (``("other",)`` for outliers)."""
    clusters: TwoLevelClusters
    labels_from_llm: int
    labels_from_keywords: int


async def discover_topics(
    dataset: str,
    texts: Sequence[str],
    vectors: NDArray[np.float32],
    labeler: TopicLabeler | None = None,
    params: ClusterParams | None = None,
    examples_per_topic: int = 5,
    max_concurrent_labels: int = 4,
    label_timeout_s: float = 60.0,
    embed: Embed | None = None,
    hints: Sequence[TraceHints | None] | None = None,
) -> DiscoveredTopics:
    """Cluster ``vectors`` (L2-normalized rows, one per text) into named topics and subtopics.

    A coarse topic that holds a single fine cluster becomes a leaf itself, so the tree has no
    parent with one child. Each topic keeps ``examples_per_topic`` representative prompts.
    Names: the LLM's when ``labeler`` answers; else, for agent traces (``hints``, one per text),
    the tool most of a leaf's prompts lead to and a parent's system-prompt domain; else the
    keyphrase ``embed`` (the model that made ``vectors``) ranks first; else keywords.
    """
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    if hints is not None and len(hints) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(hints)} trace hints")
    clusters = cluster_two_levels(vectors, params)
    fine, coarse = clusters.fine, clusters.coarse
    inliers = fine != OUTLIER
    text_list = list(texts)
    inlier_texts = [t for t, keep in zip(text_list, inliers, strict=True) if keep]
    fine_keywords = cluster_keywords(inlier_texts, fine[inliers].tolist()) if inliers.any() else {}
    coarse_keywords = (
        cluster_keywords(inlier_texts, coarse[inliers].tolist()) if inliers.any() else {}
    )

    def examples_of(mask: NDArray[np.bool_]) -> list[str]:
        rows = np.flatnonzero(mask)
        picked = representative_indices(vectors[rows], examples_per_topic)
        return [text_list[rows[i]] for i in picked]

    fine_ids = sorted(int(c) for c in np.unique(fine[inliers]))
    coarse_ids = sorted(int(c) for c in np.unique(coarse[inliers]))
    children_of = {c: [f for f in fine_ids if clusters.parent_of(f) == c] for c in coarse_ids}
    fine_examples = {f: examples_of(fine == f) for f in fine_ids}
    coarse_examples = {c: examples_of(coarse == c) for c in coarse_ids}

    def members(labels: NDArray[np.int64], ids: list[int]) -> dict[int, NDArray[np.intp]]:
        return {c: np.flatnonzero(labels == c) for c in ids}

    fine_rows, coarse_rows = members(fine, fine_ids), members(coarse, coarse_ids)
    fine_phrases, coarse_phrases = (
        cluster_keyphrases(
            {c: [text_list[i] for i in rows] for c, rows in groups.items()},
            {c: vectors[rows].mean(axis=0) for c, rows in groups.items()},
            embed,
        )
        for groups in (fine_rows, coarse_rows)
    )
    fine_plain: dict[int, TopicLabel] = {}
    coarse_plain: dict[int, TopicLabel] = {}
    domains: dict[int, TopicLabel] = {}
    if hints is not None:
        domains = domain_labels(
            {c: [hints[i] for i in rows] for c, rows in coarse_rows.items()}, embed
        )
    for f, rows in fine_rows.items():
        tool = tool_label([hints[i] for i in rows]) if hints is not None else None
        fine_plain[f] = tool or phrase_label(fine_phrases[f], fine_keywords[f], fine_examples[f])
    for c in coarse_ids:
        coarse_plain[c] = domains.get(c) or phrase_label(
            coarse_phrases[c], coarse_keywords[c], coarse_examples[c]
        )

    semaphore = asyncio.Semaphore(max_concurrent_labels)

    async def label(
        phrases: list[str], keywords: list[str], examples: list[str], plain: TopicLabel
    ) -> TopicLabel:
        # the LLM sees the keyphrases before the keywords: phrases say more than words
        terms = list(dict.fromkeys([*phrases, *keywords]))
        async with semaphore:
            return await label_topic(terms, examples, labeler, label_timeout_s, fallback=plain)

    # a coarse topic with one fine cluster is that cluster: it needs no label of its own
    parents = [c for c in coarse_ids if len(children_of[c]) > 1]
    coarse_labels, fine_labels = await asyncio.gather(
        asyncio.gather(
            *(
                label(coarse_phrases[c], coarse_keywords[c], coarse_examples[c], coarse_plain[c])
                for c in parents
            )
        ),
        asyncio.gather(
            *(
                label(fine_phrases[f], fine_keywords[f], fine_examples[f], fine_plain[f])
                for f in fine_ids
            )
        ),
    )
    coarse_label = dict(zip(parents, coarse_labels, strict=True))
    fine_label = dict(zip(fine_ids, fine_labels, strict=True))

    topics: list[Topic] = []
    path_of_fine: dict[int, tuple[str, ...]] = {}
    top_names: set[str] = {OTHER_TOPIC}
    used_labels: list[TopicLabel] = []
    for c in coarse_ids:
        members = children_of[c]
        if len(members) == 1:
            only = members[0]
            chosen = fine_label[only]
            name = unique_name(chosen.name, top_names)
            topics.append(
                Topic(name=name, description=chosen.description, examples=fine_examples[only])
            )
            path_of_fine[only] = (name,)
            used_labels.append(chosen)
            top_names.add(name)
            continue
        parent = coarse_label[c]
        name = unique_name(parent.name, top_names)
        top_names.add(name)
        used_labels.append(parent)
        children: list[Topic] = []
        child_names: set[str] = {OTHER_TOPIC}
        for f in members:
            child_label = fine_label[f]
            child_name = unique_name(child_label.name, child_names)
            child_names.add(child_name)
            used_labels.append(child_label)
            children.append(
                Topic(
                    name=child_name,
                    description=child_label.description,
                    examples=fine_examples[f],
                )
            )
            path_of_fine[f] = (name, child_name)
        topics.append(
            Topic(
                name=name,
                description=parent.description,
                examples=coarse_examples[c],
                children=children,
            )
        )
    if not inliers.all():
        topics.append(
            Topic(name=OTHER_TOPIC, description=OTHER_DESCRIPTION, examples=examples_of(~inliers))
        )

    hierarchy = TopicHierarchy(dataset=dataset, source=HierarchySource.AUTO, topics=topics)
    paths = [path_of_fine[int(f)] if f != OUTLIER else (OTHER_TOPIC,) for f in fine]
    from_llm = sum(1 for lab in used_labels if lab.from_llm)
    return DiscoveredTopics(
        hierarchy=hierarchy,
        paths=paths,
        clusters=clusters,
        labels_from_llm=from_llm,
        labels_from_keywords=len(used_labels) - from_llm,
    )
