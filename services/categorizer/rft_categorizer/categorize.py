"""Step C: a leaf topic for every prompt, from its stored vector, as CategorizedPrompt records.

The core takes vectors, never texts: after a hierarchy edit the shell embeds only the changed
topics' descriptions and examples and re-categorizes every prompt from the vectors already in
the store, without embedding a prompt again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rft_categorizer.classifier import (
    NEIGHBOUR_CALIBRATION_MIN_ROWS,
    ClassifierParams,
    LeafPath,
    TopicClassifier,
    TopicScores,
    Vectors,
    calibrated_to_neighbours,
)
from rft_categorizer.classifier import fit_classifier as _fit
from rft_categorizer.coverage import OTHER_TOPIC, topic_key
from rft_categorizer.editing import HierarchyEditError, find_topic, leaf_paths
from rft_schemas.topics import (
    CategorizationMethod,
    CategorizedPrompt,
    HierarchySource,
    Topic,
    TopicDecision,
    TopicHierarchy,
)
from rft_schemas.traces import SanitizedPrompt


@dataclass(frozen=True)
class DecisionRules:
    review_below: float = 0.5
    """A confidence under this sends the prompt to the review queue."""
    multi_topic_ratio: float = 0.6
    """Multi-topic when the runner-up's probability is at least this share of the winner's."""
    uncategorized_below_similarity: float = 0.3
    """Uncategorized when no topic example is at least this cosine-similar to the prompt.
    Measured with all-MiniLM-L6-v2 against five Banking77 examples per intent: 99.97 % of the
    Banking77 test prompts reach 0.3, and 37 % of HWU64's (another domain: alarms, music...)."""


@dataclass(frozen=True)
class TopicAssignment:
    path: list[str]
    confidence: float
    runner_up: list[str] | None
    runner_up_confidence: float | None
    multi_topic: bool
    uncategorized: bool
    needs_review: bool


def topic_texts(hierarchy: TopicHierarchy) -> dict[LeafPath, list[str]]:
    """The texts to embed for each leaf (except ``other``): its description line, then its
    examples. The description line carries the name too, since hand-written hierarchies often
    have a telling name and no description."""
    texts: dict[LeafPath, list[str]] = {}
    for path in leaf_paths(hierarchy):
        if path[0] == OTHER_TOPIC:
            continue
        topic: Topic = find_topic(hierarchy, path)
        title = topic.name.replace("_", " ")
        line = f"{title}: {topic.description}" if topic.description else title
        texts[path] = [line, *topic.examples]
    return texts


def fit_topic_classifier(
    leaf_vectors: dict[LeafPath, Vectors],
    pool: Vectors | None = None,
    params: ClassifierParams | None = None,
) -> TopicClassifier:
    """``leaf_vectors``: the embedded ``topic_texts`` per leaf; ``pool``: the dataset's vectors."""
    return _fit(leaf_vectors, pool, params)


def fit_hierarchy_classifier(
    hierarchy: TopicHierarchy,
    leaf_vectors: dict[LeafPath, Vectors],
    pool: Vectors | None = None,
    params: ClassifierParams | None = None,
) -> TopicClassifier:
    """Step C's classifier for ``hierarchy`` (``leaf_vectors``: its embedded ``topic_texts``).
    A discovered hierarchy's examples are its topics' most typical members, not a person's
    picks: its confidence is calibrated on the dataset (``pool``) instead of on them
    (``rft_categorizer.classifier``'s docstring has the measurements)."""
    if (hierarchy.source is HierarchySource.AUTO and pool is not None
            and len(pool) >= NEIGHBOUR_CALIBRATION_MIN_ROWS):
        # the temperature cross-fitted on the examples would be thrown away: not fitted
        classifier = _fit(leaf_vectors, pool, params, cross_fit_temperature=False)
        return calibrated_to_neighbours(classifier, pool)
    return _fit(leaf_vectors, pool, params)


def assign_topics(
    classifier: TopicClassifier,
    vectors: Vectors,
    pool: Vectors | None = None,
    rules: DecisionRules | None = None,
) -> list[TopicAssignment]:
    """Assignments for ``vectors``. In a batch, pass the whole dataset as ``vectors`` and no
    pool; for a few new prompts, pass stored vectors of the dataset as ``pool``."""
    if not len(vectors):
        return []
    return decide_topics(classifier.score(vectors, pool), rules)


def decide_topics(scores: TopicScores, rules: DecisionRules | None = None) -> list[TopicAssignment]:
    """The assignments ``scores`` (a classifier's, one row per prompt) make under ``rules``."""
    rules = rules or DecisionRules()
    order = np.argsort(-scores.probabilities, axis=1)
    assignments = []
    for row in range(len(scores.probabilities)):
        probabilities = scores.probabilities[row]
        best = int(order[row, 0])
        confidence = float(probabilities[best])
        second = int(order[row, 1]) if probabilities.size > 1 else None
        runner_up = list(scores.paths[second]) if second is not None else None
        runner_up_confidence = float(probabilities[second]) if second is not None else None
        far = scores.nearest_example_similarity[row] < rules.uncategorized_below_similarity
        if far:
            # Far from every topic: the best guess stays as the runner-up, and a confidence of 0
            # says that no topic was given.
            assignments.append(
                TopicAssignment(
                    path=[OTHER_TOPIC],
                    confidence=0.0,
                    runner_up=list(scores.paths[best]),
                    runner_up_confidence=confidence,
                    multi_topic=False,
                    uncategorized=True,
                    needs_review=True,
                )
            )
            continue
        multi = (
            runner_up_confidence is not None
            and runner_up_confidence >= rules.multi_topic_ratio * confidence
        )
        assignments.append(
            TopicAssignment(
                path=list(scores.paths[best]),
                confidence=min(max(confidence, 0.0), 1.0),
                runner_up=runner_up,
                runner_up_confidence=runner_up_confidence,
                multi_topic=bool(multi),
                uncategorized=False,
                needs_review=confidence < rules.review_below,
            )
        )
    return assignments


def classify_vectors(
    classifier: TopicClassifier,
    vectors: Vectors,
    pool: Vectors | None = None,
    rules: DecisionRules | None = None,
) -> list[TopicDecision]:
    """Step C's decision for each row of ``vectors`` (``classifier``: fitted on the dataset's
    hierarchy; ``pool``: the dataset's stored vectors; ``rules``: step C's): the topic a prompt
    with that vector would be categorized into, how surely, and whether it would need review.

    Step E's topic check is this, in both drivers: ``rft generate`` calls it in process
    (``CategorizerTopicChecker``), the generator service through the categorizer's
    ``POST /v1/datasets/{dataset}/topics:classify``."""
    return [
        TopicDecision(
            topic_path=a.path,
            topic=topic_key(a.path),
            confidence=a.confidence,
            needs_review=a.needs_review,
            uncategorized=a.uncategorized,
        )
        for a in assign_topics(classifier, vectors, pool, rules)
    ]


class CategorizerTopicChecker:
    """Step E's topic check as step C decides it, in process (``rft generate``): the calibrated
    classifier fitted on the hierarchy, the dataset's vectors as its pool, step C's rules (a
    prompt far from every topic lands in ``other``, confidence 0). It has the shape of
    ``rft_generator.topic_check.TopicChecker``; the generator service asks the same
    :func:`classify_vectors` through ``POST /v1/datasets/{dataset}/topics:classify``."""

    def __init__(
        self, classifier: TopicClassifier, pool: Vectors | None = None,
        rules: DecisionRules | None = None,
    ) -> None:
        self.classifier = classifier
        self.pool = pool
        self.rules = rules

    def categorize(self, vectors: Vectors) -> list[tuple[str, float]]:
        """Per row: the topic key ('a/b') it lands in and the confidence (0..1)."""
        decisions = classify_vectors(self.classifier, vectors, self.pool, self.rules)
        return [(d.topic, d.confidence) for d in decisions]


def categorize_prompts(
    prompts: Sequence[SanitizedPrompt],
    vectors: Vectors,
    classifier: TopicClassifier,
    hierarchy_version: int,
    pool: Vectors | None = None,
    rules: DecisionRules | None = None,
) -> list[CategorizedPrompt]:
    """One CategorizedPrompt per prompt (``vectors[i]`` is the stored vector of ``prompts[i]``)."""
    if len(prompts) != len(vectors):
        raise ValueError(f"{len(prompts)} prompts but {len(vectors)} vectors")
    return [
        CategorizedPrompt(
            prompt=prompt,
            topic_path=a.path,
            confidence=a.confidence,
            method=CategorizationMethod.EMBEDDING,
            runner_up=a.runner_up,
            runner_up_confidence=a.runner_up_confidence,
            multi_topic=a.multi_topic,
            uncategorized=a.uncategorized,
            needs_review=a.needs_review,
            hierarchy_version=hierarchy_version,
        )
        for prompt, a in zip(prompts, assign_topics(classifier, vectors, pool, rules), strict=True)
    ]


def set_topic_manually(record: CategorizedPrompt, path: Sequence[str]) -> CategorizedPrompt:
    """A reviewer's decision: method ``manual``, confidence 1, out of the review queue."""
    return record.model_copy(
        update={
            "topic_path": list(path),
            "confidence": 1.0,
            "method": CategorizationMethod.MANUAL,
            "multi_topic": False,
            "uncategorized": list(path) == [OTHER_TOPIC],
            "needs_review": False,
        }
    )


def check_manual_topic(hierarchy: TopicHierarchy, path: Sequence[str]) -> None:
    """A reviewer may choose a leaf of ``hierarchy`` or ``other``: raises
    ``HierarchyEditError(not_found)`` for no such topic, ``ValueError`` for a topic with
    subtopics."""
    if list(path) == [OTHER_TOPIC]:
        return
    if find_topic(hierarchy, list(path)).children:
        raise ValueError(f"{'/'.join(path)} has subtopics: pick one of them")


def decide_topic(
    record: CategorizedPrompt, hierarchy: TopicHierarchy, path: Sequence[str]
) -> CategorizedPrompt:
    """A reviewer's decision under ``hierarchy`` (checked by ``check_manual_topic``): method
    manual, confidence 1, at the hierarchy's version."""
    check_manual_topic(hierarchy, path)
    return set_topic_manually(record, path).model_copy(
        update={"hierarchy_version": hierarchy.version}
    )


def standing_decisions(
    previous: Iterable[CategorizedPrompt | None], hierarchy: TopicHierarchy
) -> dict[str, CategorizedPrompt]:
    """Prompt id -> the person's decision among ``previous`` that still stands under
    ``hierarchy`` (see ``standing_decision``): what a re-categorization keeps."""
    return {
        decision.prompt.id: decision
        for record in previous
        if (decision := standing_decision(record, hierarchy)) is not None
    }


def standing_decision(
    record: CategorizedPrompt | None, hierarchy: TopicHierarchy
) -> CategorizedPrompt | None:
    """A person's decision that still stands under ``hierarchy`` (its topic is still a leaf, or
    ``other``), moved to the hierarchy's version; None when there is none to keep."""
    if record is None or not is_manual(record):
        return None
    if record.topic_path != [OTHER_TOPIC] and not is_leaf(hierarchy, record.topic_path):
        return None
    return record.model_copy(update={"hierarchy_version": hierarchy.version})


def is_manual(record: CategorizedPrompt | None) -> bool:
    return record is not None and record.method is CategorizationMethod.MANUAL


def is_leaf(hierarchy: TopicHierarchy, path: Sequence[str]) -> bool:
    """``path`` names a topic of ``hierarchy`` that has no subtopics."""
    try:
        return not find_topic(hierarchy, list(path)).children
    except HierarchyEditError:
        return False


def review_queue(records: Sequence[CategorizedPrompt]) -> list[CategorizedPrompt]:
    """Prompts waiting for a person, least confident first."""
    return sorted((r for r in records if r.needs_review), key=lambda r: r.confidence)


HIGH_CONFIDENCE_ABOVE = 0.8
"""The seed's categorizing screen counts a confidence above this as high (a display band: the
review threshold, ``DecisionRules.review_below``, is the setting that decides anything)."""


def confidence_band(
    confidence: float, review_below: float, high_above: float = HIGH_CONFIDENCE_ABOVE
) -> str:
    """``high``, ``medium`` or ``review``: the bands of the categorizing screen."""
    if confidence > high_above:
        return "high"
    return "medium" if confidence >= review_below else "review"
