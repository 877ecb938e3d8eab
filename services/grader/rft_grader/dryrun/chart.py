"""dry_run.png: the score histogram and the mean by topic (matplotlib, headless Agg)."""

from __future__ import annotations

from pathlib import Path

from rft_schemas.rollouts import DryRunReport


def write_chart(report: DryRunReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100)
    left, right = figure.subplots(1, 2, width_ratios=[3, 2])
    bins = len(report.histogram)
    width = 1 / bins
    left.bar([i * width for i in range(bins)], report.histogram, width=width * 0.9,
             align="edge", color="#4c72b0")
    left.set_xlim(0, 1)
    left.set_xlabel("reward")
    left.set_ylabel("samples")
    left.axvline(report.stats.mean, color="#c44e52", linestyle="--",
                 label=f"mean {report.stats.mean:.2f}")
    left.legend(loc="upper right")
    left.set_title(f"{report.verdict.value}: {report.stats.count} samples, "
                   f"std {report.stats.std:.2f}")
    topics = list(report.by_topic)
    right.barh(topics, [report.by_topic[t].mean for t in topics], color="#55a868")
    right.set_xlim(0, 1)
    right.set_xlabel("mean reward")
    right.set_title("by topic")
    right.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path)
    return path
