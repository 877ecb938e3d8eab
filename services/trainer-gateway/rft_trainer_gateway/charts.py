"""``reward_curves.png`` (train and valid reward, overall and per grader, by step) and
``comparison.png`` (per topic: before and after, and the change with its interval)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from rft_schemas import EvalComparison, TrainingEvent, TrainingEventKind


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    return plt


def reward_curves(events: Sequence[TrainingEvent], target: Path) -> Path | None:
    steps = [e for e in events if e.kind is TrainingEventKind.STEP and e.train_reward is not None]
    evals = [e for e in events if e.kind is TrainingEventKind.EVAL and e.valid_reward is not None]
    if not steps and not evals:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    axis.plot([e.step for e in steps], [e.train_reward for e in steps], label="train",
              color="tab:blue", linewidth=1.8)
    axis.plot([e.step for e in evals], [e.valid_reward for e in evals], label="valid",
              color="tab:orange", marker="o", linewidth=1.8)
    per_grader: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for event in steps:
        for name, value in event.train_reward_by_grader.items():
            per_grader[f"train {name}"].append((event.step, value))
    for event in evals:
        for name, value in event.valid_reward_by_grader.items():
            per_grader[f"valid {name}"].append((event.step, value))
    for name, points in sorted(per_grader.items()):
        axis.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=0.9,
                  linestyle="--" if name.startswith("train") else ":")
    values = [e.train_reward for e in steps] + [e.valid_reward for e in evals]
    low = min(0.0, *(v for v in values if v is not None))
    high = max(1.0, *(v for v in values if v is not None))
    axis.set_ylim(low - 0.02 * (high - low), high + 0.02 * (high - low))  # the reward's range
    axis.set_xlabel("step")
    axis.set_ylabel("reward")
    axis.set_title("Reward by step")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target


def comparison_chart(comparison: EvalComparison, target: Path) -> Path:
    plt = _pyplot()
    topics = sorted(comparison.by_topic)
    labels = ["overall", *topics]
    befores = [comparison.before.mean, *(comparison.by_topic[t].before for t in topics)]
    afters = [comparison.after.mean, *(comparison.by_topic[t].after for t in topics)]
    changes = [comparison.change, *(comparison.by_topic[t].change for t in topics)]
    lows = [comparison.interval.low, *(comparison.by_topic[t].interval.low for t in topics)]
    highs = [comparison.interval.high, *(comparison.by_topic[t].interval.high for t in topics)]
    height = max(3.0, 0.45 * len(labels) + 1.5)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, height), sharey=True)
    rows = list(range(len(labels)))
    left.barh([r - 0.2 for r in rows], befores, height=0.4, label="base", color="tab:gray")
    left.barh([r + 0.2 for r in rows], afters, height=0.4, label="tuned", color="tab:green")
    left.set_yticks(rows, labels, fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, max(1.0, *befores, *afters))
    left.set_xlabel("mean reward")
    left.legend(fontsize=8)
    colours = ["tab:red" if comparison.by_topic.get(label) and
               comparison.by_topic[label].regression else "tab:blue" for label in labels]
    for row, change, low, high, colour in zip(rows, changes, lows, highs, colours, strict=True):
        right.plot([low, high], [row, row], color=colour, linewidth=1.5)  # the interval
        right.scatter([change], [row], color=colour, zorder=3)
    right.axvline(0, color="black", linewidth=0.8)
    right.set_xlabel("change (interval; red: regression)")
    figure.suptitle(f"Base vs tuned on {comparison.prompts} valid prompts x "
                    f"{comparison.samples_per_prompt} samples")
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target
