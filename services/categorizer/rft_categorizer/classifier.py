"""Step C's model: which leaf topic a prompt vector belongs to, with a calibrated probability.

Measured on Banking77 (77 leaves, five examples each, all-MiniLM-L6-v2; benchmarks/topics.py):
a nearest centroid over the examples scores about 0.76-0.79; a logistic-regression head on
the examples plus the topic's own description vector, over vectors centered on the dataset's
mean, about 0.81. The rest comes from the dataset itself: prompts of one intent sit close
together, so labels spread from the examples along the k-nearest-neighbour graph of the
dataset's own (unlabelled) vectors (label spreading, Zhou et al. 2004) reach a prompt that
no example resembles directly. The two scores are averaged; the average is then
temperature-scaled with a temperature fitted on examples held out in turn (cross-fitting),
so the confidence is calibrated without any labelled data beyond the topics' own examples.

That last step assumes the examples are typical of their topics, as a person's are. Discovery
picks its topics' examples as their most representative members instead, so held-out examples
are easy and the fitted temperature comes out far too sharp: on discovered hierarchies of five
labelled intent sets (2,000 utterances each) the mean confidence was 0.92-0.99 where 0.80-0.88
of prompts sat in their intent's topic (ECE 0.09-0.14; benchmarks/topics.py; on a sixth, ATIS,
discovery separates nothing). A discovered topic is a region of the embedding space, so
:func:`calibrated_to_neighbours` takes the temperature from the dataset instead: the one at
which the mean confidence equals the share of each prompt's nearest neighbours that land in its
topic. ECE 0.03-0.10 on those sets (x0.21 to
x0.67 the cross-fitted one's), 0.04-0.06 on the whole Banking77, HWU64 and CLINC150 train
splits (x0.30 to x0.53). On hand-written topics with five random examples the cross-fitted
temperature stays: it is the better one on four of the six sets (ECE 0.02-0.04 against
0.09-0.14 with the neighbours' temperature).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sparse
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from rft_categorizer.calibration import (
    fit_temperature,
    softmax,
    temperature_for_mean_confidence,
)
from rft_categorizer.neighbours import nearest_neighbours

LeafPath = tuple[str, ...]
Vectors = NDArray[np.float32]


@dataclass(frozen=True)
class ClassifierParams:
    regularization: float = 10.0
    """Inverse L2 strength (scikit-learn's C) of the logistic-regression head."""
    spread_neighbours: int = 10
    spread_alpha: float = 0.99
    """Share of a node's label that comes from its neighbours in each spreading step."""
    spread_iterations: int = 30
    spread_weight: float = 0.5
    """Weight of label spreading against the logistic head in the averaged probability."""
    max_graph_rows: int = 20_000
    """Rows in one spreading graph; larger inputs are split and a pool is sampled down."""
    calibration_folds: int = 5
    seed: int = 0


@dataclass(frozen=True)
class TopicScores:
    """Per input row: calibrated probabilities over ``paths`` and the nearest example's cosine."""

    paths: list[LeafPath]
    probabilities: NDArray[np.float64]
    nearest_example_similarity: NDArray[np.float64]


@dataclass(frozen=True)
class TopicClassifier:
    paths: list[LeafPath]
    examples: Vectors
    labels: NDArray[np.int64]
    center: NDArray[np.float32]
    temperature: float
    params: ClassifierParams = field(default_factory=ClassifierParams)
    head: LogisticRegression | None = None

    def score(self, vectors: Vectors, pool: Vectors | None = None) -> TopicScores:
        """Probabilities of each leaf for ``vectors``; ``pool`` adds unlabelled neighbours
        (the dataset's other prompts) to the spreading graph."""
        raw = self._combined(vectors, pool)
        probabilities = softmax(np.log(np.maximum(raw, 1e-9)), self.temperature)
        if len(self.examples) and len(vectors):
            nearest = (vectors @ self.examples.T).max(axis=1).astype(np.float64)
        else:
            nearest = np.zeros(len(vectors))
        return TopicScores(self.paths, probabilities, nearest)

    def _combined(self, vectors: Vectors, pool: Vectors | None) -> NDArray[np.float64]:
        n_classes = len(self.paths)
        if n_classes == 1:
            return np.ones((len(vectors), 1))
        params = self.params
        pool = _sample(pool, params.max_graph_rows // 2, params.seed)
        head = _head_probabilities(self.head, _center(vectors, self.center), n_classes)
        spread = np.zeros_like(head)
        room = max(params.max_graph_rows - len(self.examples) - _rows(pool), 1)
        for start in range(0, len(vectors), room):
            chunk = slice(start, start + room)
            spread[chunk] = _spread(
                self.examples, self.labels, vectors[chunk], pool, self.center, n_classes, params
            )
        return params.spread_weight * spread + (1 - params.spread_weight) * head


def fit_classifier(
    leaf_vectors: Mapping[LeafPath, Vectors],
    pool: Vectors | None = None,
    params: ClassifierParams | None = None,
    cross_fit_temperature: bool = True,
) -> TopicClassifier:
    """Fit on each leaf's vectors (its description and example prompts, embedded).

    ``pool``: the dataset's prompt vectors, unlabelled; they center the space and carry labels
    along the graph while the temperature is fitted. Leaves without vectors are left out.
    ``cross_fit_temperature=False`` skips fitting the temperature on held-out examples (most of
    the fit's time), for a caller that sets it otherwise (:func:`calibrated_to_neighbours`).
    """
    params = params or ClassifierParams()
    paths = [p for p, v in leaf_vectors.items() if len(v)]
    if not paths:
        raise ValueError("no leaf topic has a description or an example to learn from")
    examples = np.vstack([leaf_vectors[p] for p in paths]).astype(np.float32)
    labels = np.concatenate([np.full(len(leaf_vectors[p]), i) for i, p in enumerate(paths)])
    reference = pool if pool is not None and len(pool) else examples
    center = reference.mean(axis=0).astype(np.float32)
    pool = _sample(pool, params.max_graph_rows // 2, params.seed)

    temperature = 1.0
    if len(paths) > 1 and cross_fit_temperature:
        held_logits, held_labels = _cross_fitted(examples, labels, pool, center, len(paths), params)
        if len(held_labels):
            temperature = fit_temperature(held_logits, held_labels)
    head = _fit_head(examples, labels, center, params) if len(paths) > 1 else None
    return TopicClassifier(paths, examples, labels, center, temperature, params, head)


NEIGHBOUR_CALIBRATION_MIN_ROWS = 4  # fewer prompts have no neighbours worth counting


def calibrated_to_neighbours(classifier: TopicClassifier, pool: Vectors) -> TopicClassifier:
    """``classifier`` with its temperature set from ``pool`` (the dataset's vectors): the mean
    confidence over the pool becomes the share of each pool prompt's nearest neighbours that
    land in the same topic as it (module docstring: for topics discovery chose the examples of).

    The neighbours counted are a third of the median topic's size (at least 3), so that the
    neighbourhood scales with the topics: a fixed count (10) shrinks relative to them as the
    dataset grows, its agreement rises, and on the whole of Banking77 (68 topics of ~134) it
    was as overconfident as before. With too few prompts to count neighbours in, the classifier
    is returned as it is."""
    params = classifier.params
    if len(classifier.paths) < 2 or len(pool) < NEIGHBOUR_CALIBRATION_MIN_ROWS:
        return classifier
    pool = _sample(pool, params.max_graph_rows // 2, params.seed)
    assert pool is not None
    logits = np.log(np.maximum(classifier._combined(pool, None), 1e-9))
    topic = logits.argmax(axis=1)
    sizes = np.bincount(topic)
    typical = float(np.median(sizes[sizes > 0]))
    k = int(min(max(round(typical / 3), 3), len(pool) - 1))
    nearest, _ = nearest_neighbours(pool, k)
    agreement = float((topic[nearest] == topic[:, None]).mean())
    temperature = temperature_for_mean_confidence(logits, agreement)
    return replace(classifier, temperature=temperature)


def _cross_fitted(
    examples: Vectors,
    labels: NDArray[np.int64],
    pool: Vectors | None,
    center: NDArray[np.float32],
    n_classes: int,
    params: ClassifierParams,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Log-scores of examples held out in turn: fold j holds out the j-th vector of every leaf
    that has at least two, so each leaf keeps something to learn from."""
    position = np.zeros(len(labels), dtype=np.int64)
    counts = np.bincount(labels, minlength=n_classes)
    for c in range(n_classes):
        position[labels == c] = np.arange(counts[c])
    logits, truth = [], []
    for fold in range(params.calibration_folds):
        held = (position == fold) & (counts[labels] >= 2)
        if not held.any():
            break
        kept = ~held
        head = _fit_head(examples[kept], labels[kept], center, params)
        model = TopicClassifier(
            paths=[("",)] * n_classes,
            examples=examples[kept],
            labels=labels[kept],
            center=center,
            temperature=1.0,
            params=params,
            head=head,
        )
        raw = model._combined(examples[held], pool)
        logits.append(np.log(np.maximum(raw, 1e-9)))
        truth.append(labels[held])
    if not logits:
        return np.zeros((0, n_classes)), np.zeros(0, dtype=np.int64)
    return np.vstack(logits), np.concatenate(truth)


def _center(vectors: Vectors, center: NDArray[np.float32]) -> Vectors:
    # Sentence embeddings share a common direction; removing the dataset's mean and
    # re-normalizing makes the differences between topics what the cosine sees (+2 points).
    shifted = vectors - center
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32)


def _fit_head(
    examples: Vectors,
    labels: NDArray[np.int64],
    center: NDArray[np.float32],
    params: ClassifierParams,
) -> LogisticRegression | None:
    if len(np.unique(labels)) < 2:
        return None
    head = LogisticRegression(C=params.regularization, max_iter=3000)
    # A few hundred examples: L-BFGS makes many tiny matrix products, which one BLAS thread
    # does 10x faster than a pool of them contending for a shared CPU (measured: 0.6 s / 5.7 s).
    with threadpool_limits(limits=1):
        head.fit(_center(examples, center), labels)
    return head


def _head_probabilities(
    head: LogisticRegression | None, centered: Vectors, n_classes: int
) -> NDArray[np.float64]:
    probabilities = np.zeros((len(centered), n_classes))
    if head is None or not len(centered):
        probabilities[:, :] = 1.0 / n_classes
        return probabilities
    # the head may have seen fewer classes (a fold left a leaf out): put them in their columns
    probabilities[:, head.classes_] = head.predict_proba(centered)
    return probabilities


def _spread(
    examples: Vectors,
    labels: NDArray[np.int64],
    vectors: Vectors,
    pool: Vectors | None,
    center: NDArray[np.float32],
    n_classes: int,
    params: ClassifierParams,
) -> NDArray[np.float64]:
    """Label spreading over the kNN graph of examples + vectors + pool; rows for ``vectors``."""
    parts = [examples, vectors] + ([pool] if pool is not None and len(pool) else [])
    nodes = _center(np.vstack(parts), center)
    n = len(nodes)
    if n < 2:
        return np.full((len(vectors), n_classes), 1.0 / n_classes)
    nearest, similarity = nearest_neighbours(nodes, params.spread_neighbours)
    k = nearest.shape[1]
    adjacency = sparse.csr_matrix(
        (np.maximum(similarity, 0).ravel(), (np.repeat(np.arange(n), k), nearest.ravel())),
        shape=(n, n),
    )
    adjacency = adjacency.maximum(adjacency.T)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1e-12)))
    walk = scale @ adjacency @ scale
    seeds = np.zeros((n, n_classes))
    seeds[np.arange(len(examples)), labels] = 1.0
    spread = seeds.copy()
    for _ in range(params.spread_iterations):
        spread = params.spread_alpha * (walk @ spread) + (1 - params.spread_alpha) * seeds
    rows = spread[len(examples) : len(examples) + len(vectors)]
    totals = rows.sum(axis=1, keepdims=True)
    uniform = np.full_like(rows, 1.0 / n_classes)
    return np.where(totals > 1e-12, rows / np.maximum(totals, 1e-12), uniform)


def _sample(pool: Vectors | None, limit: int, seed: int) -> Vectors | None:
    if pool is None or len(pool) <= limit:
        return pool
    rows = np.random.default_rng(seed).choice(len(pool), limit, replace=False)
    return pool[np.sort(rows)]


def _rows(pool: Vectors | None) -> int:
    return 0 if pool is None else len(pool)


def leaf_vectors_from(
    paths: Sequence[LeafPath], texts_vectors: Vectors, owners: Sequence[int]
) -> dict[LeafPath, Vectors]:
    """Group embedded topic texts by leaf: ``owners[i]`` is the index in ``paths`` of row i."""
    owner_array = np.asarray(owners)
    return {p: texts_vectors[owner_array == i] for i, p in enumerate(paths)}
