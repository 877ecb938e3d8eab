"""A dry-run report's verdict checked against its own samples by the seed's table, written out
again here from the table rather than by calling the code under test.

`verdict in {"GO", "NO-GO"}` cannot fail (the enum allows nothing else); this can: the figures
must be those of the samples, and the verdict and its reasons those the figures call for.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

from rft_schemas.rollouts import DryRunReport

# The seed's interpretation table, and what GRPO needs (the settings' defaults).
LOW_MEAN, HIGH_MEAN, LOW_STD = 0.10, 0.90, 0.10
END = 0.05  # a score within this of 0 or 1 sits at that end
MAX_FLAT_SHARE, MAX_ERROR_SHARE = 0.8, 0.2


def expected_reasons(report: DryRunReport) -> list[str]:
    """The signals the report's samples raise, in the table's order; empty means GO."""
    scored = [s for s in report.samples if s.rollout_error is None]
    rewards = [s.reward for s in scored]
    if not rewards:
        return ["No sample was scored"]
    mean, std = statistics.fmean(rewards), statistics.pstdev(rewards)
    reasons = []
    if mean < LOW_MEAN:
        reasons.append(f"Mean {mean:.2f} < {LOW_MEAN:.2f}")
    if mean > HIGH_MEAN:
        reasons.append(f"Mean {mean:.2f} > {HIGH_MEAN:.2f}")
    if std < LOW_STD:
        reasons.append(f"Std {std:.2f} < {LOW_STD:.2f}")
    low = sum(r <= END for r in rewards) / len(rewards)
    high = sum(r >= 1 - END for r in rewards) / len(rewards)
    if low + high >= 0.9 and low >= 0.1 and high >= 0.1:
        reasons.append("Bimodal: scores sit at 0 and 1")
    by_prompt: dict[str, list[float]] = defaultdict(list)
    for score in scored:
        by_prompt[score.prompt_id].append(score.reward)
    compared = [r for r in by_prompt.values() if len(r) >= 2]
    flat = sum(max(r) - min(r) <= 1e-6 for r in compared) / len(compared) if compared else 0.0
    if flat > MAX_FLAT_SHARE:
        reasons.append(f"{flat:.0%} of prompts scored the same on every sample")
    errored = sum(any(s.errors.values()) for s in scored) / len(scored)
    if errored > MAX_ERROR_SHARE:
        reasons.append(f"{errored:.0%} of samples are grader errors")
    return reasons


def assert_verdict_follows_the_table(report: DryRunReport | dict[str, Any]) -> None:
    """The report's statistics are its samples', and its verdict and reasons are the table's."""
    if not isinstance(report, DryRunReport):
        report = DryRunReport.model_validate(report)
    rewards = [s.reward for s in report.samples if s.rollout_error is None]
    assert report.stats.count == len(rewards)
    assert report.failed_rollouts == len(report.samples) - len(rewards)
    if rewards:
        assert math.isclose(report.stats.mean, statistics.fmean(rewards), abs_tol=1e-9)
        assert math.isclose(report.stats.std, statistics.pstdev(rewards), abs_tol=1e-9)
    reasons = expected_reasons(report)
    assert report.verdict == ("NO-GO" if reasons else "GO"), (report.verdict, reasons)
    if reasons:
        assert report.reasons == reasons
    else:
        [why] = report.reasons
        assert why.startswith(f"Mean {report.stats.mean:.2f} and std {report.stats.std:.2f}")
