"""Step F's core: the final dataset split into train and valid, seeded, stratified, leak-free.

Stratified: each topic gives ``round(valid_fraction x its size)`` prompts to valid, drawn with a
generator seeded by (seed, topic) over the prompts sorted by id, so the split depends on the
seed and the prompts, never on input order. By default only real traces are drawn for valid
(the model is judged on what users really asked).

Leakage guard: a train prompt within ``near_duplicate_cosine`` of a valid prompt would let the
model see the test. It moves to valid when it may go there (a real trace); otherwise (a
synthetic prompt while valid holds only real ones) the valid prompt moves to train and stays
there. Every move is recorded in the manifest; the loop ends because a prompt moved to train
is never drawn back.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rft_schemas import LeakageMove, SanitizedPrompt, SplitManifest

TRAIN, VALID = "train", "valid"


@dataclass(frozen=True)
class SplitItem:
    prompt: SanitizedPrompt
    topic: str
    """Topic path as 'a/b'."""


@dataclass(frozen=True)
class SplitResult:
    train: list[SplitItem]
    valid: list[SplitItem]
    manifest: SplitManifest


def _topic_seed(seed: int, topic: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{topic}".encode()).digest()[:8], "big")


def split_dataset(
    items: Sequence[SplitItem],
    vectors: NDArray[np.float32],
    dataset: str,
    *,
    seed: int = 0,
    valid_fraction: float = 0.1,
    valid_real_only: bool = True,
    near_duplicate_cosine: float = 0.95,
    before: Mapping[str, int] | None = None,
) -> SplitResult:
    """Split ``items`` (rows of ``vectors``, L2-normalized) into train and valid."""
    if len(items) != len(vectors):
        raise ValueError(f"{len(items)} items but {len(vectors)} vectors")
    ids = [item.prompt.id for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("prompt ids repeat: deduplicate before splitting")

    def eligible(row: int) -> bool:
        return not valid_real_only or items[row].prompt.origin == "trace"

    by_topic: dict[str, list[int]] = {}
    for row, item in enumerate(items):
        by_topic.setdefault(item.topic, []).append(row)
    in_valid = np.zeros(len(items), dtype=bool)
    for topic in sorted(by_topic):
        rows = sorted(by_topic[topic], key=lambda r: ids[r])
        wanted = round(valid_fraction * len(rows))
        pool = [r for r in rows if eligible(r)]
        rng = np.random.default_rng(_topic_seed(seed, topic))
        drawn = rng.permutation(len(pool))[: min(wanted, len(pool))]
        in_valid[[pool[i] for i in drawn]] = True
    if not in_valid.any() and len(items) >= 2:
        # Per-topic rounding gives a small dataset no valid prompt, and training (step I)
        # cannot run without one: the largest topic gives one.
        topic = max(sorted(by_topic), key=lambda t: len(by_topic[t]))
        pool = sorted((r for r in by_topic[topic] if eligible(r)), key=lambda r: ids[r])
        if pool and len(by_topic[topic]) >= 2:
            rng = np.random.default_rng(_topic_seed(seed, topic))
            in_valid[pool[int(rng.integers(len(pool)))]] = True

    moves = _guard_leaks(items, vectors, in_valid, eligible, near_duplicate_cosine)
    train = [items[r] for r in range(len(items)) if not in_valid[r]]
    valid = [items[r] for r in range(len(items)) if in_valid[r]]
    manifest = SplitManifest(
        dataset=dataset,
        seed=seed,
        valid_fraction=valid_fraction,
        valid_real_only=valid_real_only,
        near_duplicate_cosine=near_duplicate_cosine,
        counts={TRAIN: _count(i.topic for i in train), VALID: _count(i.topic for i in valid)},
        sources={
            TRAIN: _count(i.prompt.origin for i in train),
            VALID: _count(i.prompt.origin for i in valid),
        },
        leakage_moves=moves,
        before=dict(before) if before is not None else _count(
            i.topic for i in items if i.prompt.origin == "trace"
        ),
        assignments={ids[r]: VALID if in_valid[r] else TRAIN for r in range(len(items))},
    )
    return SplitResult(train, valid, manifest)


def _guard_leaks(
    items: Sequence[SplitItem],
    vectors: NDArray[np.float32],
    in_valid: NDArray[np.bool_],
    eligible: Callable[[int], bool],
    threshold: float,
) -> list[LeakageMove]:
    moves: list[LeakageMove] = []
    pinned_train = np.zeros(len(items), dtype=bool)
    while True:
        valid_rows = np.flatnonzero(in_valid)
        train_rows = np.flatnonzero(~in_valid)
        if not len(valid_rows) or not len(train_rows):
            return moves
        leak = _first_leak(vectors, train_rows, valid_rows, threshold)
        if leak is None:
            return moves
        train_row, valid_row, cosine = leak
        if eligible(train_row) and not pinned_train[train_row]:
            in_valid[train_row] = True
            moved, other, to = train_row, valid_row, VALID
        else:
            in_valid[valid_row] = False
            pinned_train[valid_row] = True
            moved, other, to = valid_row, train_row, TRAIN
        moves.append(LeakageMove(
            prompt_id=items[moved].prompt.id, moved_to=to,
            near_duplicate_of=items[other].prompt.id, cosine=round(cosine, 4),
        ))


def _first_leak(
    vectors: NDArray[np.float32],
    train_rows: NDArray[np.intp],
    valid_rows: NDArray[np.intp],
    threshold: float,
    block: int = 4096,
) -> tuple[int, int, float] | None:
    """The first (train row, valid row, cosine) at or above the threshold, in blocks."""
    valid = vectors[valid_rows]
    for start in range(0, len(train_rows), block):
        rows = train_rows[start : start + block]
        scores = vectors[rows] @ valid.T
        hit = np.argwhere(scores >= threshold)
        if len(hit):
            i, j = hit[0]
            return int(rows[i]), int(valid_rows[j]), float(scores[i, j])
    return None


def _count(values: object) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))  # type: ignore[call-overload]
