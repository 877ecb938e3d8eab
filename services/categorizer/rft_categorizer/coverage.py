"""Step D: how the categorized prompts spread over the topics, and where the dataset is thin.

Counts are kept for every node of the tree (level 1 = top-level topics, level 2 = their
subtopics, ...), including topics no prompt landed in: those are the largest gaps. Prompts that
fit no topic count under ``other``, which has no target (nobody generates more "other").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from statistics import fmean, pstdev

from rft_categorizer.editing import leaf_paths
from rft_schemas.topics import (
    CategorizedPrompt,
    CoverageReport,
    SpreadStats,
    TopicCoverage,
    TopicHierarchy,
)

OTHER_TOPIC = "other"
DIFFICULTY_BUCKETS = ("easy", "medium", "hard")


def topic_key(path: Sequence[str]) -> str:
    """The string that names a topic in targets and difficulty tables: ``billing/refunds``."""
    return "/".join(path)


def compute_coverage(
    hierarchy: TopicHierarchy,
    categorized: Sequence[CategorizedPrompt],
    targets: Mapping[str, int] | None = None,
    total_target: int | None = None,
    highlight_below: float = 0.5,
) -> CoverageReport:
    """Coverage of ``categorized`` over ``hierarchy``.

    The uniform target splits the dataset evenly down the tree: each top-level topic gets
    ``total / n`` (``other`` excluded), and each subtopic an even share of its parent's target;
    ``total`` is the categorized prompts, or ``total_target`` when the user wants the dataset
    to grow to that size. ``targets`` (keyed by ``topic_key``) replace the target of the
    topics they name, and their subtopics share that instead. A topic is highlighted
    (``below_target``) when its count is under ``highlight_below`` of its target; every topic
    under its target gets a recommendation of ``target - count`` new prompts.
    """
    nodes = _node_paths(hierarchy)
    counts: Counter[tuple[str, ...]] = Counter()
    for record in categorized:
        path = tuple(record.topic_path) if record.topic_path else (OTHER_TOPIC,)
        for depth in range(1, len(path) + 1):
            counts[path[:depth]] += 1
    known = set(nodes)
    nodes += sorted(p for p in counts if p not in known)

    total = len(categorized)
    in_topics = total - counts[(OTHER_TOPIC,)]
    grow_to = total_target if total_target is not None else in_topics
    per_level: Counter[int] = Counter(len(p) for p in nodes if p[0] != OTHER_TOPIC)
    siblings: Counter[tuple[str, ...]] = Counter(p[:-1] for p in nodes if p[0] != OTHER_TOPIC)
    user_targets = dict(targets or {})

    rows: list[TopicCoverage] = []
    target_of: dict[tuple[str, ...], float] = {(): float(grow_to)}
    for path in nodes:
        level = len(path)
        count = counts[path]
        if path[0] == OTHER_TOPIC:
            exact = 0.0
        elif topic_key(path) in user_targets:
            exact = float(user_targets[topic_key(path)])
        else:
            exact = target_of.get(path[:-1], 0.0) / siblings[path[:-1]]
        target_of[path] = exact
        target = math.ceil(exact)
        gap = max(target - count, 0)
        rows.append(
            TopicCoverage(
                path=list(path),
                level=level,
                count=count,
                share=count / total if total else 0.0,
                target=target,
                gap=gap,
                recommended_generate=gap,
                below_target=target > 0 and count < highlight_below * target,
            )
        )

    spread: dict[int, SpreadStats] = {}
    for level in sorted(per_level):
        level_counts = [r.count for r in rows if r.level == level and r.path[0] != OTHER_TOPIC]
        spread[level] = SpreadStats(
            min=min(level_counts),
            max=max(level_counts),
            mean=fmean(level_counts),
            std=pstdev(level_counts),
        )

    signal, buckets, by_difficulty = _difficulty(categorized)
    return CoverageReport(
        dataset=hierarchy.dataset,
        hierarchy_version=hierarchy.version,
        total=total,
        target_policy="user" if user_targets else "uniform",
        topics=rows,
        spread_by_level=spread,
        by_difficulty=by_difficulty,
        difficulty_signal=signal,
        difficulty_buckets=buckets,
    )


def _node_paths(hierarchy: TopicHierarchy) -> list[tuple[str, ...]]:
    """Every node's path, parents before their children, in tree order."""
    seen: dict[tuple[str, ...], None] = {}
    for leaf in leaf_paths(hierarchy):
        for depth in range(1, len(leaf) + 1):
            seen.setdefault(leaf[:depth], None)
    return list(seen)


def _reward(record: CategorizedPrompt) -> float | None:
    """The trace's reward: a top-level ``reward``, or tau2's ``reward_info.reward``."""
    fields = record.prompt.item_fields
    value = fields.get("reward")
    info = fields.get("reward_info")
    if value is None and isinstance(info, dict):
        value = info.get("reward")
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _difficulty(
    categorized: Sequence[CategorizedPrompt],
) -> tuple[str, dict[str, str], dict[str, dict[str, int]]]:
    """Difficulty buckets from trace rewards when every record has one, else token length
    (in characters where the sanitizer left token counts out).

    Rewards in [0, 1] are cut at 1/3 and 2/3 (a low reward means the task was hard for the
    agent that produced the trace); other signals are cut at their tertiles, so each bucket
    holds about a third of the data whatever its scale.
    """
    rewards = [_reward(r) for r in categorized]
    if categorized and all(r is not None for r in rewards):
        values = [float(r) for r in rewards if r is not None]
        signal = "reward"
        if all(0.0 <= v <= 1.0 for v in values):
            low, high = 1 / 3, 2 / 3
        else:
            low, high = _tertiles(values)
        # a high reward is an easy task
        labels = ("hard", "medium", "easy")
    else:
        if not categorized:
            return "none", {}, {}
        lengths = [r.prompt.token_count for r in categorized]
        if all(n is not None for n in lengths):
            values = [float(n) for n in lengths if n is not None]
            signal = "token_length"
        else:
            # The sanitizer counts tokens only where the count decides a bound, so most real
            # prompts have none; their length in characters orders them the same way, and the
            # buckets are tertiles of that order.
            values = [float(_prompt_chars(r)) for r in categorized]
            signal = "prompt_length"
        low, high = _tertiles(values)
        labels = ("easy", "medium", "hard")

    buckets = {
        labels[0]: f"< {low:g}",
        labels[1]: f">= {low:g} and < {high:g}",
        labels[2]: f">= {high:g}",
    }
    table: dict[str, Counter[str]] = {name: Counter() for name in DIFFICULTY_BUCKETS}
    for record, value in zip(categorized, values, strict=True):
        bucket = labels[0] if value < low else labels[1] if value < high else labels[2]
        path = record.topic_path or [OTHER_TOPIC]
        table[bucket][topic_key(path)] += 1
    return signal, buckets, {name: dict(sorted(c.items())) for name, c in table.items()}


def _tertiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    low = ordered[len(ordered) // 3]
    high = ordered[(2 * len(ordered)) // 3]
    if high <= low:
        # heavily tied signal: keep the middle bucket non-empty-able instead of collapsing
        high = low + 1
    return low, high


def _prompt_chars(record: CategorizedPrompt) -> int:
    return sum(len(m.text()) for m in record.prompt.messages)
