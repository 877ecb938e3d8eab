"""Coverage as the seed's terminal bar chart (pure text) and as a PNG (matplotlib, Agg)."""

from __future__ import annotations

import io

from rft_categorizer.coverage import OTHER_TOPIC, topic_key
from rft_schemas.topics import CoverageReport, TopicCoverage

BAR_WIDTH = 16
WARNING = "⚠️"


def _rows(report: CoverageReport, level: int) -> list[TopicCoverage]:
    rows = [r for r in report.topics if r.level == level]
    if level > 1:
        # "other" has no subtopics; show it at every level so the rows add up to the total
        rows += [r for r in report.topics if r.path == [OTHER_TOPIC] and r.count]
    return rows


def _label(row: TopicCoverage, level: int) -> str:
    return topic_key(row.path) if level > 1 else row.path[0]


def render_coverage_chart(report: CoverageReport, level: int = 1) -> str:
    """The seed's "Current Coverage Distribution" box for the topics of ``level``."""
    rows = _rows(report, level)
    top = max((r.count for r in rows), default=0)
    name_width = max((len(_label(r, level)) for r in rows), default=5)
    count_width = max((len(f"{r.count:,}") for r in rows), default=1)
    lines = []
    for row in rows:
        filled = round(BAR_WIDTH * row.count / top) if top else 0
        if row.count and not filled:
            filled = 1  # a topic with prompts never looks empty
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        mark = f" {WARNING}" if row.below_target else ""
        lines.append(f"{_label(row, level):<{name_width}}  {bar} {row.count:>{count_width},}{mark}")
    notes: list[str] = []
    for row in rows:
        if row.below_target:
            notes.append(
                f'{WARNING} Imbalanced: "{_label(row, level)}" has only {100 * row.share:.1f}%'
            )
            notes.append(f"   Recommended: Generate ~{row.recommended_generate:,} more")
    if not notes:
        notes.append("No topic is below half of its target.")
    title = "Current Coverage Distribution"
    if level > 1:
        title += f" (level {level})"
    body = ["", *lines, "", *notes, ""]
    # emoji are two cells wide in a terminal; count them so the right border lines up
    width = max(len(title), *(len(line) + line.count(WARNING) for line in body)) + 2

    def boxed(text: str) -> str:
        pad = width - len(text) - text.count(WARNING) - 1
        return f"│ {text}{' ' * pad}│"

    return "\n".join(
        [
            "┌" + "─" * width + "┐",
            boxed(title),
            "├" + "─" * width + "┤",
            *(boxed(line) for line in body),
            "└" + "─" * width + "┘",
        ]
    )


def coverage_png(report: CoverageReport, level: int = 1) -> bytes:
    """A horizontal bar chart of counts against targets, as PNG bytes (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = _rows(report, level)
    labels = [_label(r, level) for r in rows]
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.5))
    colors = ["#d9822b" if r.below_target else "#3b7dd8" for r in rows]
    positions = range(len(rows))
    axes.barh(positions, [r.count for r in rows], color=colors, label="prompts")
    axes.scatter(
        [r.target for r in rows], positions, marker="|", s=200, color="black", label="target"
    )
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_xlabel("prompts")
    axes.set_title(f"{report.dataset}: coverage by topic (orange: below target)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def render_difficulty(report: CoverageReport) -> str | None:
    """One line per difficulty bucket (prompts per bucket, and its range), or None without a
    signal."""
    if report.difficulty_signal == "none":
        return None
    lines = [f"By difficulty ({report.difficulty_signal.replace('_', ' ')}):"]
    for bucket, topics in report.by_difficulty.items():
        described = report.difficulty_buckets.get(bucket, "")
        lines.append(f"  {bucket:<7}{sum(topics.values()):>6,}  ({described})")
    return "\n".join(lines)
