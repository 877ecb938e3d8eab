"""Two-level clustering of prompt vectors by community detection on their k-nearest-neighbour graph.

Why this algorithm (measured on Banking77 and HWU64, all-MiniLM-L6-v2 vectors, see
benchmarks/topics.py): k-means needs the number of clusters, and silhouette kept rising up to
200 clusters instead of peaking near the 77 true intents. BERTopic's UMAP + HDBSCAN finds the
count itself but leaves 10-30 % of prompts as outliers and splits intents into hundreds of
small topics (ARI about 0.2). Leiden community detection on the cosine kNN graph finds the count
from the data (the partition of highest modularity at a resolution), puts every prompt in a
community, and scored NMI 0.82 / ARI 0.57 on Banking77 in a few seconds. The coarse level is a
second, lower-resolution partition of the same graph; each fine cluster goes to the coarse
cluster that holds most of its prompts, so the two levels nest.

The resolutions come from the data. A constant fine resolution (3.0, fitted to Banking77 and
HWU64) found 75 leaves in CLINC150's 150 intents: modularity's null model makes the scale of a
partition depend on the graph's size and on how many clusters it holds, so no one constant fits
every set. Each resolution of a grid is scored by how well two kNN graphs of different random
80 % samples of the prompts agree on its partition (ARI on the prompts both hold): at the scale
of real groups, the partition survives resampling; above it, groups split along arbitrary lines
that move with the sample. The leaf level is the most stable resolution at or above 1 (standard
modularity), the coarse level the most stable one at or below 1 and under half the leaf's.
The method was chosen on HWU64's kfold1 train split; benchmarks/topics.py reports it on every set.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import igraph
import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import adjusted_rand_score

from rft_categorizer.neighbours import nearest_neighbours

OUTLIER = -1


@dataclass(frozen=True)
class ClusterParams:
    neighbours: int = 15
    fine_resolution: float | None = None
    """None: chosen from the data (the most stable resolution at or above 1)."""
    coarse_resolution: float | None = None
    """None: chosen from the data (the most stable resolution at or below 1)."""
    min_leaves: int | None = None
    """A user who knows there are at least this many topics: the leaf level is then the most
    stable resolution among those whose partition of the whole graph has this many clusters of
    ``min_cluster_size`` (those that come closest when none has). Stability alone finds too few
    leaves where intents differ by little, e.g. 19-22 for HWU64's 64 (benchmarks/topics.py)."""
    resolutions: tuple[float, ...] = tuple(0.25 * 2 ** (i / 2) for i in range(16))
    """The grid searched: 0.25 to 45, each step x1.41."""
    stability_samples: int = 3
    """Random samples of the prompts whose partitions are compared, pair by pair."""
    sample_share: float = 0.8
    min_cluster_size: int = 5
    outlier_spread: float = 4.0
    """A prompt whose cosine to its cluster's centroid lies more than this many robust
    standard deviations (1.4826 x MAD) under the cluster's median is an outlier: Leiden puts
    every node in some community, a lone prompt too."""
    seed: int = 0
    block_rows: int = 2048


@dataclass(frozen=True)
class TwoLevelClusters:
    """Per row: its fine cluster and the coarse cluster that fine cluster belongs to.

    ``OUTLIER`` (-1) marks rows of fine clusters smaller than ``min_cluster_size`` at both levels.
    Cluster ids are dense (0..n-1) and ordered by size, largest first.
    """

    fine: NDArray[np.int64]
    coarse: NDArray[np.int64]
    fine_resolution: float | None = None
    coarse_resolution: float | None = None
    stability: dict[float, float] | None = None
    """Per resolution of the grid, the mean ARI between partitions of resampled graphs
    (None when both resolutions were given)."""

    @property
    def outlier_share(self) -> float:
        return float(np.mean(self.fine == OUTLIER)) if len(self.fine) else 0.0

    def parent_of(self, fine_cluster: int) -> int:
        return int(self.coarse[np.argmax(self.fine == fine_cluster)])


def knn_graph(vectors: NDArray[np.float32], neighbours: int, block_rows: int) -> igraph.Graph:
    """Undirected graph joining each row to its ``neighbours`` most cosine-similar rows;
    an edge found from both ends keeps its larger weight."""
    nearest, similarity = nearest_neighbours(vectors, neighbours, block_rows)
    n, k = nearest.shape
    edges = np.stack([np.repeat(np.arange(n), k), nearest.ravel()], axis=1)
    graph = igraph.Graph(n=n, edges=edges.tolist(), directed=False)
    # negative cosine would be a repelling edge, which modularity cannot use
    graph.es["weight"] = np.maximum(similarity.ravel(), 1e-6).tolist()
    return graph.simplify(combine_edges="max")


def _leiden(graph: igraph.Graph, resolution: float, seed: int) -> NDArray[np.int64]:
    # igraph draws from a Python Random we can seed, so the same vectors give the same topics
    igraph.set_random_number_generator(random.Random(seed))
    try:
        partition = graph.community_leiden(
            objective_function="modularity",
            weights="weight",
            resolution=resolution,
            n_iterations=-1,
        )
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(partition.membership, dtype=np.int64)


def _dense_by_size(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """Renumber clusters 0..n-1 by decreasing size, keeping OUTLIER as it is."""
    sizes = Counter(int(x) for x in labels if x != OUTLIER)
    order = {c: i for i, (c, _) in enumerate(sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])))}
    return np.asarray([order.get(int(x), OUTLIER) for x in labels], dtype=np.int64)


def _drop_far_members(
    vectors: NDArray[np.float32], labels: NDArray[np.int64], spread: float
) -> NDArray[np.int64]:
    labels = labels.copy()
    for cluster in np.unique(labels[labels != OUTLIER]):
        members = np.flatnonzero(labels == cluster)
        centroid = vectors[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        similarity = vectors[members] @ centroid
        median = float(np.median(similarity))
        deviation = 1.4826 * float(np.median(np.abs(similarity - median)))
        labels[members[similarity < median - spread * max(deviation, 1e-3)]] = OUTLIER
    return labels


def resolution_stability(
    vectors: NDArray[np.float32],
    params: ClusterParams,
    resolutions: Sequence[float],
    agreement: Callable[[NDArray[np.int64], NDArray[np.int64]], float] = adjusted_rand_score,
) -> dict[float, float]:
    """Per resolution, the mean ``agreement`` (ARI) between the Leiden partitions of kNN graphs
    built on ``stability_samples`` random samples of the rows, compared on the rows two samples
    share; resolutions whose partitions are no topics (``_is_topic_partition``) are left out."""
    n = len(vectors)
    rng = np.random.default_rng(params.seed)
    size = max(2 * params.min_cluster_size, int(params.sample_share * n))
    samples = [np.sort(rng.choice(n, size, replace=False)) for _ in range(params.stability_samples)]
    graphs = [knn_graph(vectors[rows], params.neighbours, params.block_rows) for rows in samples]
    shared = {
        (i, j): np.intersect1d(samples[i], samples[j], return_indices=True)[1:]
        for i, j in itertools.combinations(range(len(samples)), 2)
    }
    stability: dict[float, float] = {}
    for resolution in resolutions:
        labels = [_leiden(graph, resolution, params.seed) for graph in graphs]
        if not all(_is_topic_partition(found, params.min_cluster_size) for found in labels):
            continue
        stability[resolution] = float(np.mean([
            agreement(labels[i][in_i], labels[j][in_j]) for (i, j), (in_i, in_j) in shared.items()
        ]))
    return stability


def _is_topic_partition(labels: NDArray[np.int64], min_size: int) -> bool:
    """At least two clusters of ``min_size`` and most rows in such clusters. Two partitions
    into one cluster, or into singletons, agree perfectly (ARI 1) whatever the data: they are
    no candidates (on 103 drone prompts, resolutions from 22.6 up made only singletons)."""
    sizes = np.bincount(labels)
    big = sizes >= min_size
    return int(big.sum()) >= 2 and int(sizes[big].sum()) >= 0.5 * len(labels)


def _most_stable(stability: dict[float, float], keep: Callable[[float], bool]) -> float:
    candidates = [r for r in stability if keep(r)]
    return max(candidates, key=lambda r: (stability[r], -r))


def choose_resolutions(
    vectors: NDArray[np.float32], params: ClusterParams, graph: igraph.Graph
) -> tuple[float, float, dict[float, float] | None]:
    """The (fine, coarse) resolutions: those given, else the most stable of the grid (with
    ``params.min_leaves``, among those whose partition of ``graph``, the whole kNN graph of
    ``vectors``, has that many topics)."""
    if params.fine_resolution is not None and params.coarse_resolution is not None:
        return params.fine_resolution, params.coarse_resolution, None
    stability = resolution_stability(vectors, params, params.resolutions)
    fine = params.fine_resolution
    if fine is None and params.min_leaves is not None:
        enough = _with_enough_leaves(graph, [r for r in params.resolutions if r >= 1.0], params)
        # resampling may leave a fine resolution unmeasured: then the coarsest with enough
        measured = [r for r in enough if r in stability]
        fine = _most_stable(stability, lambda r: r in measured) if measured else min(enough)
    if fine is None:
        at_or_above = [r for r in stability if r >= 1.0]
        fine = _most_stable(stability, lambda r: r in at_or_above) if at_or_above else 1.0
    coarse = params.coarse_resolution
    if coarse is None:
        below = [r for r in stability if r <= min(1.0, fine / 2)]
        coarse = _most_stable(stability, lambda r: r in below) if below else fine / 4
    return fine, coarse, stability


def _with_enough_leaves(
    graph: igraph.Graph, grid: list[float], params: ClusterParams
) -> list[float]:
    """The resolutions of ``grid`` whose partition of ``graph`` has ``params.min_leaves``
    clusters of ``min_cluster_size``; when none has, those that come closest (the finest of
    the grid would split a small dataset into clusters too small to keep)."""
    assert params.min_leaves is not None
    topics = {}
    for resolution in grid:
        sizes = np.bincount(_leiden(graph, resolution, params.seed))
        topics[resolution] = int((sizes >= params.min_cluster_size).sum())
    enough = min(params.min_leaves, max(topics.values()))
    return [r for r, count in topics.items() if count >= enough]


def cluster_two_levels(
    vectors: NDArray[np.float32], params: ClusterParams | None = None
) -> TwoLevelClusters:
    params = params or ClusterParams()
    n = len(vectors)
    if n < 2 * params.min_cluster_size:
        # too few prompts to tell topics apart: one topic
        zeros = np.zeros(n, dtype=np.int64)
        return TwoLevelClusters(fine=zeros, coarse=zeros.copy())
    graph = knn_graph(vectors, params.neighbours, params.block_rows)
    fine_resolution, coarse_resolution, stability = choose_resolutions(vectors, params, graph)
    fine = _leiden(graph, fine_resolution, params.seed)
    sizes = np.bincount(fine)
    fine = np.where(sizes[fine] >= params.min_cluster_size, fine, OUTLIER)
    fine = _drop_far_members(vectors, fine, params.outlier_spread)
    if np.all(fine == OUTLIER):
        fine = np.zeros(n, dtype=np.int64)
    fine = _dense_by_size(fine)

    coarse_points = _leiden(graph, coarse_resolution, params.seed)
    parent: dict[int, int] = {}
    for cluster in np.unique(fine[fine != OUTLIER]):
        members = coarse_points[fine == cluster]
        parent[int(cluster)] = int(np.bincount(members).argmax())
    coarse = np.asarray([parent.get(int(c), OUTLIER) for c in fine], dtype=np.int64)
    return TwoLevelClusters(
        fine=fine,
        coarse=_dense_by_size(coarse),
        fine_resolution=fine_resolution,
        coarse_resolution=coarse_resolution,
        stability=stability,
    )
