"""Few-shot examples that cover a topic: maximal marginal relevance over the topic's vectors.

The first k prompts of a topic (or its k nearest to the centroid) are often near-copies of one
another; MMR (Carbonell and Goldstein, 1998) trades closeness to the topic's centroid against
closeness to the examples already picked, so the LLM sees the topic's range, not one corner.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def mmr_select(
    vectors: NDArray[np.float32], k: int, diversity: float = 0.5, seed: int = 0
) -> list[int]:
    """Row indices of ``k`` examples of ``vectors`` (L2-normalized rows), in pick order.

    Score of a row = (1 - diversity) * cos(row, centroid) - diversity * max cos(row, picked).
    The first pick is drawn at random among the rows most central to the topic (the top
    quarter), seeded, so successive requests of one job do not all open with the same prompt.
    """
    rows = len(vectors)
    if rows == 0 or k <= 0:
        return []
    if rows <= k:
        return list(range(rows))
    centroid = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    relevance = vectors @ (centroid / norm) if norm > 0 else np.zeros(rows, dtype=np.float32)
    rng = np.random.default_rng(seed)
    central = np.argsort(-relevance, kind="stable")[: max(1, rows // 4)]
    picked = [int(rng.choice(central))]
    nearest_picked = vectors @ vectors[picked[0]]
    while len(picked) < k:
        score = (1 - diversity) * relevance - diversity * nearest_picked
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        nearest_picked = np.maximum(nearest_picked, vectors @ vectors[best])
    return picked
