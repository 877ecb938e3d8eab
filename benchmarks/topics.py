"""Steps B and C quality on labelled real data (examples/data/intent), next to the baselines.

Discovery: the topics found in Banking77 (77 intents) and HWU64 (18 scenarios as coarse topics,
64 intents as fine topics) train and test splits, without being told how many there are, scored
by NMI and ARI against the human labels at both levels, with the leaves found, the share of
outliers and the time; BERTopic (default settings: UMAP + HDBSCAN, its own c-TF-IDF labels;
coarse level from its ``reduce_topics(nr_topics="auto")``) runs on the same vectors in the same
process, once per UMAP seed (``--bertopic-seeds``, 3 by default: unseeded, its scores move from
run to run), and the baseline is the mean of those runs. ``--sets DIR`` adds sets nobody tuned
on (CLINC150 with its 10 domains, SNIPS, ATIS, HWU64 in another split; see ``unseen_sets``),
and a table at the end puts every set side by side.

After discovery, step C categorizes the split into the discovered hierarchy (the categorizer's
classifier fitted on each found leaf's description and examples, the split as its pool), and
its confidence is scored against the labels: a prompt counts as right when it lands in the leaf
that holds most prompts of its intent (discovery may merge intents: the fairest reading of
"right" for a found topic), with accuracy, mean confidence, ECE and the share of confidences of
0.99 and more. The baseline is the same classifier with its temperature fitted on the found
topics' own examples, as it was before discovered hierarchies were calibrated on the dataset.

Categorization: a hierarchy built from the label names with five train examples per leaf
(HWU64: scenario/intent paths), scored on the test split: accuracy and expected calibration
error (ECE, 15 bins), next to a nearest centroid over the same five examples. The categorizer
sees the dataset it categorizes as unlabelled vectors; two datasets are reported: the whole
corpus (train + test, labels hidden but for the five examples per leaf) and the test split alone.
A reference line gives what the same vectors allow with every train label (a nearest centroid
and a logistic regression over all of them): how well the model's space separates the intents.
Another gives the ceiling of the LLM's second opinion: the accuracy a judge that is always right
would reach, as built (winner or runner-up, on the prompts it is asked about) and with the five
most likely leaves on every prompt under the review threshold.

    HF_HUB_OFFLINE=1 python benchmarks/topics.py                 # embeds 24,000 utterances
    HF_HUB_OFFLINE=1 python benchmarks/topics.py --cache /tmp/v  # keep vectors between runs
    python benchmarks/topics.py --no-bertopic --seeds 3
    python benchmarks/topics.py --cache /tmp/v --sets /tmp/intent_sets --max-rows 2000 \
        --splits train --no-categorization                       # every set, subsampled
    python benchmarks/topics.py --model all-mpnet-base-v2 ...    # another embedding model

Vectors come from the platform's embedder on its CPU path (ONNX Runtime) for ``--model``.

Times are wall-clock seconds and CPU seconds of this process (all its threads); on a shared
machine the wall clock also counts time other processes held the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from rft_categorizer.calibration import expected_calibration_error
from rft_categorizer.categorize import (
    DecisionRules,
    assign_topics,
    decide_topics,
    fit_hierarchy_classifier,
    fit_topic_classifier,
    topic_texts,
)
from rft_categorizer.classifier import TopicClassifier
from rft_categorizer.clustering import OUTLIER, ClusterParams
from rft_categorizer.discovery import DiscoveredTopics, discover_topics
from rft_categorizer.keywords import snake_case
from rft_categorizer.second_opinion import needs_second_opinion
from rft_embedder.settings import DEFAULT_MODEL

INTENT = Path(__file__).resolve().parents[1] / "examples" / "data" / "intent"
SHOTS = 5
WIDER_CANDIDATES = 5


@dataclass(frozen=True)
class Split:
    texts: list[str]
    fine: list[str]
    coarse: list[str] | None


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split


def banking77() -> Dataset:
    def split(name: str) -> Split:
        with (INTENT / "banking77" / f"{name}.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        return Split([r["text"] for r in rows], [r["category"] for r in rows], None)

    return Dataset("banking77", split("train"), split("test"))


def hwu64() -> Dataset:
    def split(folder: str) -> Split:
        texts, fine, coarse = [], [], []
        for path in sorted((INTENT / "hwu64_kfold1" / folder).glob("*.csv")):
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle, delimiter=";"):
                    texts.append(row["answer_from_anno"])
                    coarse.append(row["scenario"])
                    fine.append(path.stem)
        return Split(texts, fine, coarse)

    return Dataset("hwu64", split("trainset"), split("testset_csv"))


# Sets nobody tuned on, kept out of the repository (as a new user's data would be): --sets DIR
# holds clinc/oos-eval's data/ folder as DIR/clinc_oos_eval/data (CLINC150, CC BY 3.0) and the
# Datasets/ folder of jianguoz/Few-Shot-Intent-Detection as DIR/few_shot_intent (SNIPS, ATIS,
# and HWU64 in a split other than the kfold1 one shipped here).


def clinc150(root: Path) -> Dataset:
    data = json.loads((root / "clinc_oos_eval" / "data" / "data_full.json").read_text())
    domains = json.loads((root / "clinc_oos_eval" / "data" / "domains.json").read_text())
    domain_of = {intent: domain for domain, intents in domains.items() for intent in intents}

    def split(name: str) -> Split:
        rows = data[name]  # in-scope only: the oos_* splits have no intent to find
        return Split([r[0] for r in rows], [r[1] for r in rows], [domain_of[r[1]] for r in rows])

    return Dataset("clinc150", split("train"), split("test"))


def few_shot_intent(root: Path, folder: str, name: str, coarse_prefix: bool) -> Dataset:
    def split(part: str) -> Split:
        base = root / "few_shot_intent" / folder / part
        texts = (base / "seq.in").read_text().splitlines()
        labels = (base / "label").read_text().splitlines()
        # HWU64's intents are scenario_intent: the scenario is the coarse label
        coarse = [label.split("_", 1)[0] for label in labels] if coarse_prefix else None
        return Split(texts, labels, coarse)

    return Dataset(name, split("train"), split("test"))


def unseen_sets(root: Path) -> list[Dataset]:
    return [
        clinc150(root),
        few_shot_intent(root, "HWU64", "hwu64_fsi_split", coarse_prefix=True),
        few_shot_intent(root, "SNIPS", "snips", coarse_prefix=False),
        few_shot_intent(root, "ATIS", "atis", coarse_prefix=False),
    ]


def sample_rows(size: int, limit: int | None, seed: int = 0) -> NDArray[np.intp]:
    """At most ``limit`` row numbers, drawn with a fixed seed (the sets are sorted by label)."""
    if limit is None or size <= limit:
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).permutation(size)[:limit])


def subsample(split: Split, limit: int | None, seed: int = 0) -> Split:
    """At most ``limit`` rows of ``split`` (``sample_rows``)."""
    rows = sample_rows(len(split.texts), limit, seed)
    return Split(
        [split.texts[i] for i in rows],
        [split.fine[i] for i in rows],
        [split.coarse[i] for i in rows] if split.coarse else None,
    )


class Timer:
    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:6.1f} s wall {self.cpu:6.1f} s cpu"


class Encoder:
    """The platform's own embedder (the ONNX Runtime path it takes on a CPU) for ``model``,
    with its vectors kept in ``cache`` (keyed by model and texts)."""

    def __init__(self, cache: Path | None, model: str, threads: int | None) -> None:
        self.cache, self.model, self.threads = cache, model, threads
        self.slug = snake_case(Path(model).name) or "model"
        self.loaded: Any = None

    def _path(self, texts: list[str]) -> Path | None:
        key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        return self.cache / f"{self.slug}-onnx-{key}.npy" if self.cache else None

    def cached(self, texts: list[str]) -> NDArray[np.float32] | None:
        path = self._path(texts)
        return np.load(path) if path and path.exists() else None

    def __call__(self, texts: list[str]) -> NDArray[np.float32]:
        found = self.cached(texts)
        if found is not None:
            return found
        if self.loaded is None:
            from rft_embedder import EmbedderSettings, load_embedder

            settings = EmbedderSettings(model=self.model, backend="onnx", threads=self.threads)
            self.loaded = load_embedder(settings)
        vectors = np.asarray(self.loaded.embed(texts), dtype=np.float32)
        path = self._path(texts)
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        return vectors

    def rows(self, split: Split, rows: NDArray[np.intp]) -> NDArray[np.float32]:
        """The vectors of ``rows`` of ``split``: from the whole split's cached vectors when
        there are some, else embedding those rows alone."""
        whole = self.cached(split.texts)
        if whole is not None:
            return whole[rows]
        return self([split.texts[i] for i in rows])


def embedder(cache: Path | None, model: str, threads: int | None) -> Encoder:
    return Encoder(cache, model, threads)


def scores(truth: Sequence[str] | None, found: NDArray[np.int64]) -> str:
    if truth is None:
        return "        n/a        "
    nmi = normalized_mutual_info_score(truth, found)
    ari = adjusted_rand_score(truth, found)
    return f"NMI {nmi:.3f} ARI {ari:.3f}"


def metric(truth: Sequence[str] | None, found: NDArray[np.int64]) -> tuple[float, float]:
    if truth is None:
        return float("nan"), float("nan")
    return normalized_mutual_info_score(truth, found), adjusted_rand_score(truth, found)


@dataclass(frozen=True)
class DiscoveryRow:
    dataset: str
    method: str
    utterances: int
    fine_labels: int
    coarse_labels: int | None
    leaves: int
    tops: int
    fine: tuple[float, float]
    coarse: tuple[float, float]
    outliers: float
    seconds: float


def discovery_row(
    name: str, method: str, split: Split, fine: NDArray[np.int64], coarse: NDArray[np.int64],
    seconds: float,
) -> DiscoveryRow:
    return DiscoveryRow(
        dataset=name,
        method=method,
        utterances=len(split.texts),
        fine_labels=len(set(split.fine)),
        coarse_labels=len(set(split.coarse)) if split.coarse else None,
        leaves=len(set(fine.tolist()) - {OUTLIER}),
        tops=len(set(coarse.tolist()) - {OUTLIER}),
        fine=metric(split.fine, fine),
        coarse=metric(split.coarse, coarse),
        outliers=float(np.mean(fine == OUTLIER)),
        seconds=seconds,
    )


def print_discovered_calibration(
    found: DiscoveredTopics, split: Split, vectors: NDArray[np.float32],
    encode: Callable[[list[str]], NDArray[np.float32]],
) -> None:
    """Step C's confidence on the discovered hierarchy, against the labels (module docstring)."""
    texts = topic_texts(found.hierarchy)
    leaf_vectors = {p: encode(t) for p, t in texts.items()}
    cross_fitted = fit_topic_classifier(leaf_vectors, pool=vectors)  # the baseline's way
    classifier = fit_hierarchy_classifier(found.hierarchy, leaf_vectors, pool=vectors)
    ours = print_confidence_against_labels("step C on the discovered hierarchy", classifier,
                                           vectors, split)
    before = print_confidence_against_labels(
        "  baseline: the temperature fitted on its examples", cross_fitted, vectors, split)
    print(f"  ECE x{ours / before:.2f} the baseline's")


def print_confidence_against_labels(
    title: str, classifier: TopicClassifier, vectors: NDArray[np.float32], split: Split
) -> float:
    """Prints accuracy, confidence and ECE against the labels; returns the ECE."""
    assignments = assign_topics(classifier, vectors)
    landed = [tuple(a.runner_up if a.uncategorized else a.path) for a in assignments]
    confidence = np.asarray(
        [a.runner_up_confidence if a.uncategorized else a.confidence for a in assignments])
    intents = sorted(set(split.fine))
    home = {intent: Counter(leaf for leaf, i in zip(landed, split.fine, strict=True)
                            if i == intent).most_common(1)[0][0] for intent in intents}
    correct = np.asarray([home[i] == leaf for leaf, i in zip(landed, split.fine, strict=True)])
    error = expected_calibration_error(confidence, correct)
    print(f"{title} ({len(classifier.paths)} leaves): accuracy "
          f"{correct.mean():.3f} (in its intent's leaf), mean confidence {confidence.mean():.3f}, "
          f"ECE {error:.3f}, confidence >= 0.99 for {np.mean(confidence >= 0.99):.1%}; "
          f"temperature {classifier.temperature:.3f}")
    return error


def bertopic_draws(
    name: str, split: Split, vectors: NDArray[np.float32], seeds: int
) -> list[DiscoveryRow]:
    """BERTopic with its default settings but for UMAP's seed, once per seed: unseeded, UMAP
    gives another layout each run, and the scores move with it (fine ARI 0.327 and 0.378 on the
    same 2,000 Banking77 utterances in two runs), so the baseline is the mean of several."""
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    def model(seed: int) -> BERTopic:
        # BERTopic's own UMAP defaults (bertopic/_bertopic.py), with random_state added
        layout = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                      low_memory=False, random_state=seed)
        return BERTopic(umap_model=layout, vectorizer_model=CountVectorizer(stop_words="english"))

    # UMAP and HDBSCAN compile with numba on first use: warm up once, outside the timed runs
    model(0).fit(split.texts[:600], embeddings=vectors[:600])
    draws = []
    for seed in range(seeds):
        with Timer() as timer:
            fitted = model(seed)
            fine = np.asarray(fitted.fit_transform(split.texts, embeddings=vectors)[0])
            fitted.reduce_topics(split.texts, nr_topics="auto")
            coarse = np.asarray(fitted.topics_)
        draws.append(discovery_row(name, "BERTopic", split, fine, coarse, timer.wall))
    return draws


def mean_row(rows: list[DiscoveryRow]) -> DiscoveryRow:
    """One row of the means of ``rows`` (draws of one method on one split)."""
    first = rows[0]

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    return DiscoveryRow(
        dataset=first.dataset, method=first.method, utterances=first.utterances,
        fine_labels=first.fine_labels, coarse_labels=first.coarse_labels,
        leaves=round(mean([r.leaves for r in rows])), tops=round(mean([r.tops for r in rows])),
        fine=(mean([r.fine[0] for r in rows]), mean([r.fine[1] for r in rows])),
        coarse=(mean([r.coarse[0] for r in rows]), mean([r.coarse[1] for r in rows])),
        outliers=mean([r.outliers for r in rows]), seconds=mean([r.seconds for r in rows]),
    )


def run_discovery(
    data: Dataset, vectors: NDArray[np.float32], bertopic_seeds: int, part: str = "train",
    encode: Callable[[list[str]], NDArray[np.float32]] | None = None,
    told_intents: bool = False,
) -> list[DiscoveryRow]:
    """``told_intents``: discovery is given the number of intents as its lower bound on the
    leaves (``ClusterParams.min_leaves``, what a user who knows it can set); BERTopic is not."""
    split = data.train if part == "train" else data.test
    name = f"{data.name} {part}"
    params = ClusterParams(min_leaves=len(set(split.fine))) if told_intents else None
    with Timer() as ours_time:
        found = asyncio.run(discover_topics(data.name, split.texts, vectors, params=params))
    fine, coarse = found.clusters.fine, found.clusters.coarse
    print(f"\n== discovery: {name}, {len(split.texts):,} utterances, "
          f"{len(set(split.fine))} fine / "
          f"{len(set(split.coarse)) if split.coarse else '-'} coarse labels ==")
    ours = discovery_row(name, "ours", split, fine, coarse, ours_time.wall)
    print(f"ours      fine {ours.leaves:4d} topics {scores(split.fine, fine)} | coarse "
          f"{ours.tops:3d} topics {scores(split.coarse, coarse)} | outliers "
          f"{ours.outliers:5.1%} | {ours_time}")
    clusters = found.clusters
    if clusters.stability is not None:
        print(f"          resolutions chosen from the data: fine {clusters.fine_resolution:.2f}, "
              f"coarse {clusters.coarse_resolution:.2f} (resampling ARI per resolution: "
              + ", ".join(f"{r:.2f}:{a:.3f}" for r, a in clusters.stability.items()) + ")")
    if encode is not None:
        print_discovered_calibration(found, split, vectors, encode)
    if not bertopic_seeds:
        return [ours]
    draws = bertopic_draws(name, split, vectors, bertopic_seeds)
    theirs = mean_row(draws)
    spread = ""
    if len(draws) > 1:
        low = [min(r.fine[i] for r in draws) for i in (0, 1)]
        high = [max(r.fine[i] for r in draws) for i in (0, 1)]
        spread = (f"  (mean of {len(draws)} UMAP seeds; fine NMI {low[0]:.3f}-{high[0]:.3f}, "
                  f"ARI {low[1]:.3f}-{high[1]:.3f})")
    print(f"BERTopic  fine {theirs.leaves:4d} topics NMI {theirs.fine[0]:.3f} ARI "
          f"{theirs.fine[1]:.3f} | coarse {theirs.tops:3d} topics "
          + (f"NMI {theirs.coarse[0]:.3f} ARI {theirs.coarse[1]:.3f}" if split.coarse
             else f"{'n/a':^19s}")
          + f" | outliers {theirs.outliers:5.1%} | {theirs.seconds:6.1f} s wall{spread}")
    ratios = [
        f"fine NMI x{ours.fine[0] / theirs.fine[0]:.2f}",
        f"fine ARI x{ours.fine[1] / theirs.fine[1]:.2f}",
    ]
    if split.coarse:
        ratios += [
            f"coarse NMI x{ours.coarse[0] / theirs.coarse[0]:.2f}",
            f"coarse ARI x{ours.coarse[1] / theirs.coarse[1]:.2f}",
        ]
    ratios.append(f"time x{theirs.seconds / ours_time.wall:.1f} faster (wall)")
    print("ours / BERTopic: " + ", ".join(ratios))
    return [ours, theirs]


def print_discovery_table(rows: list[DiscoveryRow]) -> None:
    """Every set side by side: ours and BERTopic on the same vectors; a '<' marks a figure of
    ours below BERTopic's (the target is ahead on NMI and ARI at both levels on every set)."""
    print("\n== discovery, every set ==")
    print(f"{'set':28s} {'method':8s} {'rows':>6s} {'labels':>8s} {'leaves':>6s} {'tops':>4s} "
          f"{'fine NMI':>9s} {'fine ARI':>9s} {'crs NMI':>8s} {'crs ARI':>8s} {'outl':>6s} "
          f"{'s':>6s}")
    baseline = {r.dataset: r for r in rows if r.method == "BERTopic"}

    def cell(value: float, other: float | None, width: int) -> str:
        if np.isnan(value):
            return f"{'-':>{width}s}"
        mark = "<" if other is not None and value < other else " "
        return f"{value:{width - 1}.3f}{mark}"

    for r in rows:
        base = baseline.get(r.dataset) if r.method == "ours" else None
        labels = f"{r.fine_labels}/{r.coarse_labels or '-'}"
        print(f"{r.dataset:28s} {r.method:8s} {r.utterances:6d} {labels:>8s} {r.leaves:6d} "
              f"{r.tops:4d} {cell(r.fine[0], base and base.fine[0], 9)} "
              f"{cell(r.fine[1], base and base.fine[1], 9)} "
              f"{cell(r.coarse[0], base and base.coarse[0], 8)} "
              f"{cell(r.coarse[1], base and base.coarse[1], 8)} {r.outliers:6.1%} "
              f"{r.seconds:6.1f}")


def leaf_path(split: Split, row: int) -> tuple[str, ...]:
    fine = snake_case(split.fine[row])
    if split.coarse is None:
        return (fine,)
    return (snake_case(split.coarse[row]), fine)


def leaf_numbers(
    leaves: list[tuple[str, ...]], paths: list[tuple[str, ...]]
) -> NDArray[np.intp]:
    """Each path's index in ``leaves``; -1 for an intent the train split never shows (ATIS's
    test split has some), which no method can get right."""
    number = {leaf: i for i, leaf in enumerate(leaves)}
    return np.asarray([number.get(p, -1) for p in paths], dtype=np.intp)


def run_categorization(
    data: Dataset,
    train_vectors: NDArray[np.float32],
    test_vectors: NDArray[np.float32],
    encode: Callable[[list[str]], NDArray[np.float32]],
    seeds: int,
) -> None:
    train, test = data.train, data.test
    train_paths = [leaf_path(train, i) for i in range(len(train.texts))]
    test_paths = [leaf_path(test, i) for i in range(len(test.texts))]
    leaves = sorted(set(train_paths))
    # the description line a hierarchy from label names gives each leaf (topic_texts' format)
    titles = encode([p[-1].replace("_", " ") for p in leaves])
    unseen = int((leaf_numbers(leaves, test_paths) < 0).sum())
    print(f"\n== categorization: {data.name}, {len(leaves)} leaves x {SHOTS} train examples, "
          f"scored on {len(test.texts):,} test utterances ==")
    if unseen:
        print(f"({unseen} test utterances have an intent the train split never shows: "
              f"counted wrong for every method)")
    results: dict[str, list[float]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        by_leaf = {p: np.flatnonzero([q == p for q in train_paths]) for p in leaves}
        # a subsampled train split may hold fewer than SHOTS examples of a rare leaf
        shots = {p: rng.choice(rows, min(SHOTS, len(rows)), replace=False)
                 for p, rows in by_leaf.items()}
        leaf_vectors = {
            p: np.vstack([titles[i : i + 1], train_vectors[shots[p]]]) for i, p in enumerate(leaves)
        }
        truth = leaf_numbers(leaves, test_paths)

        centroids = np.stack([train_vectors[shots[p]].mean(axis=0) for p in leaves])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)  # nearest by cosine
        centroid_correct = (test_vectors @ centroids.T).argmax(axis=1) == truth
        results.setdefault("centroid acc", []).append(centroid_correct.mean())

        corpus = np.vstack([train_vectors, test_vectors])
        for name, dataset_vectors, test_rows in [
            ("corpus", corpus, slice(len(train_vectors), None)),
            ("test only", test_vectors, slice(None)),
        ]:
            with Timer() as timer:
                classifier = fit_topic_classifier(leaf_vectors, pool=dataset_vectors)
                scores = classifier.score(dataset_vectors)
                assignments = decide_topics(scores)[test_rows]
            predicted = [tuple(a.runner_up if a.uncategorized else a.path) for a in assignments]
            correct = np.asarray([p == test_paths[i] for i, p in enumerate(predicted)])
            confidence = np.asarray(
                [a.runner_up_confidence if a.uncategorized else a.confidence for a in assignments]
            )
            results.setdefault(f"{name} acc", []).append(correct.mean())
            # What the LLM's second opinion could reach at best: a judge that is always right
            # on the prompts it is asked about, choosing winner or runner-up.
            asked = np.asarray([needs_second_opinion(a, DecisionRules().review_below)
                                for a in assignments])
            runner_up_right = np.asarray(
                [tuple(a.runner_up or ()) == test_paths[i] for i, a in enumerate(assignments)]
            )
            results.setdefault(f"{name} asked", []).append(asked.mean())
            results.setdefault(f"{name} ceiling", []).append(
                (correct | (asked & runner_up_right)).mean()
            )
            # The same with more candidates, asked about every prompt under the threshold
            top = np.argsort(-scores.probabilities[test_rows], axis=1)[:, :WIDER_CANDIDATES]
            truth_rows = leaf_numbers([tuple(p) for p in scores.paths], test_paths)
            in_top = (top == truth_rows[:, None]).any(axis=1)
            review = np.asarray([a.needs_review for a in assignments])
            results.setdefault(f"{name} wider ceiling", []).append(
                (correct | (review & in_top)).mean()
            )
            results.setdefault(f"{name} ece", []).append(
                expected_calibration_error(confidence, correct)
            )
            results.setdefault(f"{name} seconds", []).append(timer.wall)
            results.setdefault(f"{name} uncategorized", []).append(
                np.mean([a.uncategorized for a in assignments])
            )
            results.setdefault(f"{name} needs review", []).append(
                np.mean([a.needs_review for a in assignments])
            )

    def mean(key: str) -> float:
        return float(np.mean(results[key]))

    print(f"nearest centroid (5 examples)  accuracy {mean('centroid acc'):.3f}")
    for name in ("corpus", "test only"):
        print(
            f"ours, dataset = {name:9s}    accuracy {mean(f'{name} acc'):.3f}  "
            f"ECE {mean(f'{name} ece'):.3f}  uncategorized {mean(f'{name} uncategorized'):.1%}  "
            f"needs review {mean(f'{name} needs review'):.1%}  "
            f"{mean(f'{name} seconds'):.1f} s  | accuracy x"
            f"{mean(f'{name} acc') / mean('centroid acc'):.3f} the centroid's"
        )
    print(f"LLM second opinion, its ceiling (a judge always right between winner and runner-up "
          f"on the {mean('corpus asked'):.1%} it is asked about): accuracy "
          f"{mean('corpus ceiling'):.3f}, dataset = corpus; with the {WIDER_CANDIDATES} most "
          f"likely leaves as candidates, asked about every prompt under the review threshold: "
          f"{mean('corpus wider ceiling'):.3f}")
    print_full_label_reference(train_vectors, train_paths, test_vectors, test_paths)
    if seeds > 1:
        spread = ", ".join(f"{v:.3f}" for v in results["corpus acc"])
        print(f"(means over {seeds} draws of the five examples; corpus accuracy: {spread})")


def print_full_label_reference(
    train_vectors: NDArray[np.float32],
    train_paths: list[tuple[str, ...]],
    test_vectors: NDArray[np.float32],
    test_paths: list[tuple[str, ...]],
) -> None:
    """What the same vectors allow with every train label instead of five per leaf: how far
    the model's space separates the intents at all."""
    leaves = sorted(set(train_paths))
    labels = leaf_numbers(leaves, train_paths)
    truth = leaf_numbers(leaves, test_paths)
    centroids = np.stack([train_vectors[labels == i].mean(axis=0) for i in range(len(leaves))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    centroid = ((test_vectors @ centroids.T).argmax(axis=1) == truth).mean()
    head = LogisticRegression(C=10.0, max_iter=3000).fit(train_vectors, labels)
    logistic = (head.predict(test_vectors) == truth).mean()
    print(f"(reference, all {len(labels):,} train labels instead of {SHOTS} per leaf: nearest "
          f"centroid {centroid:.3f}, logistic regression {logistic:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep embedded vectors in this folder")
    parser.add_argument("--sets", type=Path, help="folder of the unseen sets (see unseen_sets)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedding model: name or folder")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    parser.add_argument("--max-rows", type=int, help="subsample each split to this many rows")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--told-intents", action="store_true",
                        help="give discovery the number of intents as its least leaves")
    parser.add_argument("--bertopic-seeds", type=int, default=3,
                        help="UMAP seeds BERTopic runs with; the baseline is their mean")
    parser.add_argument("--no-categorization", action="store_true")
    parser.add_argument("--no-discovery", action="store_true")
    parser.add_argument("--seeds", type=int, default=1, help="draws of the five examples")
    parser.add_argument("--only", nargs="*", help="dataset names to run")
    parser.add_argument("--splits", nargs="*", default=["train", "test"],
                        help="the splits discovery runs on")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPU cores, load average {load:.1f} at start; "
          f"python {sys.version.split()[0]}; model {args.model} (ONNX Runtime path)")
    encode = embedder(args.cache, args.model, args.threads)
    datasets = [banking77(), hwu64()] + (unseen_sets(args.sets) if args.sets else [])
    rows: list[DiscoveryRow] = []
    for data in datasets:
        if args.only and data.name not in args.only:
            continue
        train_rows = sample_rows(len(data.train.texts), args.max_rows)
        test_rows = sample_rows(len(data.test.texts), args.max_rows)
        with Timer() as embed_time:
            train_vectors = encode.rows(data.train, train_rows)
            test_vectors = encode.rows(data.test, test_rows)
        data = Dataset(
            data.name, subsample(data.train, args.max_rows), subsample(data.test, args.max_rows)
        )
        cut = f"; splits subsampled to at most {args.max_rows:,} rows" if args.max_rows else ""
        print(f"\n[{data.name}: {len(data.train.texts):,} + {len(data.test.texts):,} utterances "
              f"embedded or loaded in {embed_time}{cut}]")
        if not args.no_discovery:
            for part in args.splits:
                vectors = train_vectors if part == "train" else test_vectors
                seeds = 0 if args.no_bertopic else args.bertopic_seeds
                rows += run_discovery(data, vectors, seeds, part, encode, args.told_intents)
        if not args.no_categorization:
            run_categorization(data, train_vectors, test_vectors, encode, args.seeds)
    if rows:
        print_discovery_table(rows)


if __name__ == "__main__":
    main()
