"""Check (3): which topic a candidate lands in when categorized again, and how surely.

:class:`TopicChecker` is the seam to step C. Step C's own decision
(``rft_categorizer.categorize.classify_vectors``: its calibrated classifier fitted on the topic
hierarchy, the dataset's vectors as its pool, its rules) is the check in both drivers:

- ``rft_categorizer.categorize.CategorizerTopicChecker``: that code in process, handed in by the
  caller (``rft generate``, when topic_hierarchy.json is there). It lives with step C, so this
  package imports nothing of the categorizer.
- :class:`HttpTopicChecker`: the same code in the categorizer service, through its
  ``POST /v1/datasets/{dataset}/topics:classify`` (the generator service, whenever it reads its
  dataset from the categorizer).

And :class:`PrototypeTopicChecker`: nearest topic prototype (the mean of the topic's categorized
prompt vectors), softmax over the cosines. It needs nothing but the vectors the job already
has: only the fallback when there is no categorizer to ask (categorized files and no hierarchy
beside them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from rft_schemas.topics import CLASSIFY_MAX_ROWS, TopicDecision

Vectors = NDArray[np.float32]


class TopicChecker(Protocol):
    def categorize(self, vectors: Vectors) -> list[tuple[str, float]]:
        """Per row: the topic key ('a/b') it lands in and the confidence (0..1)."""


class PrototypeTopicChecker:
    def __init__(self, topic_vectors: Mapping[str, Vectors], temperature: float = 0.05) -> None:
        self.topics = [t for t, v in topic_vectors.items() if len(v)]
        if not self.topics:
            raise ValueError("no topic has a vector to build a prototype from")
        means = np.vstack([topic_vectors[t].mean(axis=0) for t in self.topics])
        self.prototypes = means / np.linalg.norm(means, axis=1, keepdims=True)
        self.temperature = temperature

    def categorize(self, vectors: Vectors) -> list[tuple[str, float]]:
        if len(vectors) == 0:
            return []
        logits = (vectors @ self.prototypes.T) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [(self.topics[int(b)], float(probabilities[i, b])) for i, b in enumerate(best)]


class _Classifying(Protocol):
    def classify(self, dataset: str, vectors: Vectors) -> Sequence[TopicDecision]: ...


class HttpTopicChecker:
    """Step C's own decision asked of the categorizer service (``categorizer.classify``: the
    generator's client of its API, :class:`rft_generator.sources.CategorizerAPI`), which answers
    with the code ``rft_categorizer.categorize.CategorizerTopicChecker`` runs in process.
    Blocking (the runner calls it from a worker thread); a categorizer that cannot answer
    raises the client's ``CategorizerUnavailable``: the job fails and is resumed, it never falls
    back to another check."""

    def __init__(self, categorizer: _Classifying, dataset: str) -> None:
        self.categorizer = categorizer
        self.dataset = dataset

    def categorize(self, vectors: Vectors) -> list[tuple[str, float]]:
        landed: list[tuple[str, float]] = []
        for start in range(0, len(vectors), CLASSIFY_MAX_ROWS):
            chunk = vectors[start : start + CLASSIFY_MAX_ROWS]
            decisions = self.categorizer.classify(self.dataset, chunk)
            if len(decisions) != len(chunk):
                raise ValueError(f"the categorizer answered {len(decisions)} decisions for "
                                 f"{len(chunk)} vectors")
            landed += [(d.topic, d.confidence) for d in decisions]
        return landed
