"""The seed's Dry Run Validation screens (GO and NO-GO) as plain text: a pure function."""

from __future__ import annotations

from rft_schemas.rollouts import DryRunReport, Verdict

WIDTH = 45  # inner width of the seed's box
BAR_ROWS = 5
FULL, LIGHT = "█", "░"


def topic_label(mean: float) -> str:
    if mean < 0.10:
        return "too hard"
    if mean < 0.40:
        return "room to improve"
    if mean <= 0.90:
        return "good"
    return "too easy"


def histogram_rows(counts: list[int], rows: int = BAR_ROWS) -> list[str]:
    """One column per bin, ``rows`` high, scaled to the tallest bin; a bin with any sample
    shows at least a light cell, so a lone outlier is not drawn as nothing."""
    tallest = max(counts, default=0)
    if tallest == 0:
        return [LIGHT * len(counts)]
    heights = [c * rows / tallest for c in counts]
    lines = []
    for row in range(rows, 0, -1):
        cells = []
        for height, count in zip(heights, counts, strict=True):
            if height >= row - 0.5:
                cells.append(FULL)
            elif row == 1 and count:
                cells.append(LIGHT)
            else:
                cells.append(" ")
        lines.append("".join(cells).rstrip())
    return [line for line in lines if line] or [LIGHT * len(counts)]


def axis(bins: int) -> str:
    labels = ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    step = max(bins // 5, 4)
    return "".join(label.ljust(step) for label in labels).rstrip()


def _box(title_left: str, title_right: str, body: list[str]) -> str:
    top = "┌" + "─" * WIDTH + "┐"
    head = "│ " + title_left.ljust(WIDTH - 2 - len(title_right)) + title_right + " │"
    rule = "├" + "─" * WIDTH + "┤"
    lines = []
    for text in body:
        while len(text) > WIDTH - 2:  # wrap long findings instead of breaking the frame
            cut = text.rfind(" ", 0, WIDTH - 2)
            cut = cut if cut > 4 else WIDTH - 2
            lines.append("│ " + text[:cut].ljust(WIDTH - 2) + " │")
            text = "     " + text[cut:].lstrip()
        lines.append("│ " + text.ljust(WIDTH - 2) + " │")
    return "\n".join([top, head, rule, *lines, "└" + "─" * WIDTH + "┘"])


def render_dry_run_screen(report: DryRunReport) -> str:
    go = report.verdict is Verdict.GO
    badge = "[GO]" if go else "[NO-GO]"
    stats = report.stats
    body = [f"Tested: {stats.count} samples ({report.prompts} prompts x "
            f"{report.samples_per_prompt})", "", "Score Distribution:"]
    body += histogram_rows(report.histogram)
    body += [axis(len(report.histogram)), "",
             f"Mean: {stats.mean:.2f}  Std: {stats.std:.2f}  "
             f"Min: {stats.min:.2f}  Max: {stats.max:.2f}",
             f"Same score on all {report.samples_per_prompt}: "
             f"{report.flat_prompt_share:.0%} of prompts", ""]
    if report.failed_rollouts:
        body.append(f"Rollouts without an answer: {report.failed_rollouts}")
    if report.grader_errors:
        body.append("Grader errors: " + ", ".join(f"{flag} {count}" for flag, count
                                                  in report.grader_errors.items()))
    if go:
        body += ["✓ Dataset quality: Good", "  Base model can partially solve tasks", "",
                 "✓ Grader quality: Good", "  Scores differentiate outputs well", ""]
    else:
        body += ["⚠ Diagnosis:", "", "Possible causes:"]
        number = 0
        for finding in report.findings:
            body.append(f"- {finding.signal}")
            for kind, issue in (("Dataset issue", finding.dataset_issue),
                                ("Grader issue", finding.grader_issue)):
                if issue:
                    number += 1
                    body.append(f"{number}. {kind}: {issue}")
            if finding.recommendation:
                body.append(f"   → Recommendation: {finding.recommendation}")
        body.append("")
    if report.by_topic:
        body.append("By Topic:")
        for topic, topic_stats in report.by_topic.items():
            body.append(f"  {topic[:24]}: {topic_stats.mean:.2f} ({topic_label(topic_stats.mean)})")
        body.append("")
    pruned = len(report.all_pass_prompt_ids) + len(report.all_fail_prompt_ids)
    if pruned:
        body.append(f"Prunable: {len(report.all_pass_prompt_ids)} all-pass, "
                    f"{len(report.all_fail_prompt_ids)} all-fail prompts")
    body.append("[View Samples] [Adjust Grader] [Train →]" if go
                else "[Review Dataset] [Adjust Grader] [Run SFT]")
    return _box("Dry Run Validation", badge, body)
