"""Which leaf resolution would each data-driven criterion choose, and how good would it be?

Step B chooses its leaf level as the Leiden resolution whose partitions agree most (ARI) between
kNN graphs of random 80 % samples (rft_categorizer.clustering). On the labelled intent sets
that choice is sometimes far coarser than the intents (22 leaves for HWU64's 64 intents in one
split, 46 in another). This script asks whether another criterion, still chosen from the data
alone, would do better: for each resolution of the grid it prints the leaves found on the whole
graph, their fine (and coarse) NMI / ARI against the labels, and four criteria:

- ``sample ARI``: the shipped one (rft_categorizer.clustering.resolution_stability);
- ``sample NMI``: the same resampled partitions compared by NMI instead of ARI;
- ``seed ARI``: the whole graph's partitions under two Leiden seeds;
- ``plateau``: the partition's ARI with those of the neighbouring resolutions of the grid (a
  scale that survives a change of resolution).

Then, per criterion, the resolution at or above 1 it picks and that partition's scores, next to
the best resolution in hindsight (the labels' choice, which no criterion can see) and, with
``--bertopic-seeds N``, BERTopic's mean over N UMAP seeds (benchmarks/topics.py) as the
baseline, with the ratios.

    python benchmarks/resolution_criteria.py --cache /tmp/v --sets /tmp/intent_sets \\
        --max-rows 2000 --splits train test --bertopic-seeds 3
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from topics import (
    Dataset,
    Split,
    banking77,
    bertopic_draws,
    embedder,
    hwu64,
    mean_row,
    sample_rows,
    subsample,
    unseen_sets,
)

from rft_categorizer.clustering import (
    ClusterParams,
    _is_topic_partition,
    _leiden,
    knn_graph,
    resolution_stability,
)
from rft_embedder.settings import DEFAULT_MODEL


@dataclass(frozen=True)
class ResolutionScores:
    resolution: float
    leaves: int
    fine: tuple[float, float]
    coarse: tuple[float, float] | None
    criteria: dict[str, float]


def labels_scores(truth: list[str] | None, found: NDArray[np.int64]) -> tuple[float, float] | None:
    if truth is None:
        return None
    return normalized_mutual_info_score(truth, found), adjusted_rand_score(truth, found)


def score_resolutions(vectors: NDArray[np.float32], split: Split,
                      params: ClusterParams) -> list[ResolutionScores]:
    grid = list(params.resolutions)
    graph = knn_graph(vectors, params.neighbours, params.block_rows)
    partitions = [_leiden(graph, r, params.seed) for r in grid]
    other_seed = [_leiden(graph, r, params.seed + 1) for r in grid]
    sample_ari = resolution_stability(vectors, params, grid)
    sample_nmi = resolution_stability(vectors, params, grid, normalized_mutual_info_score)
    rows = []
    for i, resolution in enumerate(grid):
        neighbours = [partitions[j] for j in (i - 1, i + 1) if 0 <= j < len(grid)]
        criteria = {
            "sample ARI": sample_ari.get(resolution, float("nan")),
            "sample NMI": sample_nmi.get(resolution, float("nan")),
            "seed ARI": adjusted_rand_score(partitions[i], other_seed[i]),
            "plateau": float(np.mean([adjusted_rand_score(partitions[i], p) for p in neighbours])),
        }
        if not _is_topic_partition(partitions[i], params.min_cluster_size):
            criteria = {name: float("nan") for name in criteria}
        rows.append(ResolutionScores(
            resolution=resolution,
            leaves=len(np.unique(partitions[i])),
            fine=labels_scores(split.fine, partitions[i]) or (float("nan"), float("nan")),
            coarse=labels_scores(split.coarse, partitions[i]),
            criteria=criteria,
        ))
    return rows


def pick(
    rows: list[ResolutionScores], key: Callable[[ResolutionScores], float]
) -> ResolutionScores:
    """The row of highest ``key`` among resolutions at or above 1 (the leaf level's range)."""
    candidates = [r for r in rows if r.resolution >= 1.0 and not np.isnan(key(r))]
    return max(candidates, key=lambda r: (key(r), -r.resolution))


def report(name: str, split: Split, vectors: NDArray[np.float32], bertopic_seeds: int) -> None:
    params = ClusterParams()
    rows = score_resolutions(vectors, split, params)
    names = list(rows[0].criteria)
    print(f"\n== {name}: {len(split.texts):,} utterances, {len(set(split.fine))} intents ==")
    print(f"{'resolution':>10s} {'leaves':>6s} {'fine NMI':>8s} {'fine ARI':>8s} "
          + " ".join(f"{c:>10s}" for c in names))
    for r in rows:
        print(f"{r.resolution:10.2f} {r.leaves:6d} {r.fine[0]:8.3f} {r.fine[1]:8.3f} "
              + " ".join(f"{r.criteria[c]:10.3f}" for c in names))
    baseline = None
    if bertopic_seeds:
        baseline = mean_row(bertopic_draws(name, split, vectors, bertopic_seeds))
        print(f"BERTopic (mean of {bertopic_seeds} UMAP seeds): {baseline.leaves} leaves, fine "
              f"NMI {baseline.fine[0]:.3f} ARI {baseline.fine[1]:.3f}")
    picks = {c: pick(rows, lambda r, c=c: r.criteria[c]) for c in names}
    picks["hindsight (labels)"] = pick(rows, lambda r: r.fine[1])
    for criterion, chosen in picks.items():
        line = (f"  {criterion:18s} r={chosen.resolution:6.2f} {chosen.leaves:4d} leaves, fine "
                f"NMI {chosen.fine[0]:.3f} ARI {chosen.fine[1]:.3f}")
        if baseline is not None:
            ahead = chosen.fine[0] > baseline.fine[0] and chosen.fine[1] > baseline.fine[1]
            line += (f" | x{chosen.fine[0] / baseline.fine[0]:.2f} / "
                     f"x{chosen.fine[1] / baseline.fine[1]:.2f} BERTopic's"
                     f" ({'ahead' if ahead else 'behind'})")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="keep embedded vectors in this folder")
    parser.add_argument("--sets", type=Path, help="folder of the unseen sets (topics.py)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--max-rows", type=int, default=2000)
    parser.add_argument("--splits", nargs="*", default=["train"])
    parser.add_argument("--bertopic-seeds", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="dataset names to run")
    args = parser.parse_args()
    encode = embedder(args.cache, args.model, None)
    datasets: list[Dataset] = [banking77(), hwu64()] + (unseen_sets(args.sets) if args.sets else [])
    for data in datasets:
        if args.only and data.name not in args.only:
            continue
        for part in args.splits:
            whole = data.train if part == "train" else data.test
            vectors = encode.rows(whole, sample_rows(len(whole.texts), args.max_rows))
            report(f"{data.name} {part}", subsample(whole, args.max_rows), vectors,
                   args.bertopic_seeds)


if __name__ == "__main__":
    main()
