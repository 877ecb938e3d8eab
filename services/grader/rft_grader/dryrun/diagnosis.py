"""The seed's interpretation table as code: score statistics in, findings and a verdict out.

| Signal           | Dataset issue    | Grader issue              |
| Mean < 0.10      | Prompts too hard | Grader too strict         |
| Mean > 0.90      | Prompts too easy | Grader too lenient        |
| Std < 0.10       | -                | Grader can't differentiate|
| Bimodal (0 or 1) | -                | Grader needs calibration  |

Two more signals come from what GRPO needs: prompts whose k samples all score the same give it
no advantage to learn from, and samples the grader failed on (reward 0 by flag) are not scores.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rft_schemas.rollouts import DryRunReport, Finding, Score, ScoreStats, Verdict

LOW_MEAN = 0.10
HIGH_MEAN = 0.90
LOW_STD = 0.10
# "Bimodal at 0 and 1": nearly every score sits at an end, and both ends are populated.
END_WIDTH = 0.05
BIMODAL_END_SHARE = 0.9
BIMODAL_MIN_SIDE = 0.1
# Flat prompts: their samples' rewards differ by less than this.
FLAT_TOLERANCE = 1e-6

REVIEW_DATASET = "Review dataset"
ADJUST_GRADER = "Adjust grader"
RUN_SFT = "Run SFT first"
PRUNE = "Prune the train split of all-pass and all-fail prompts"


@dataclass(frozen=True)
class Thresholds:
    max_flat_share: float = 0.8
    max_error_share: float = 0.2


def score_stats(rewards: Sequence[float]) -> ScoreStats:
    if not rewards:
        return ScoreStats(count=0, mean=0.0, std=0.0, min=0.0, max=0.0)
    mean = math.fsum(rewards) / len(rewards)
    variance = math.fsum((r - mean) ** 2 for r in rewards) / len(rewards)
    return ScoreStats(count=len(rewards), mean=mean, std=math.sqrt(variance),
                      min=min(rewards), max=max(rewards))


def histogram(rewards: Sequence[float], bins: int) -> list[int]:
    counts = [0] * bins
    for reward in rewards:
        clipped = min(max(reward, 0.0), 1.0)
        counts[min(int(clipped * bins), bins - 1)] += 1
    return counts


def is_bimodal(rewards: Sequence[float]) -> bool:
    if not rewards:
        return False
    low = sum(1 for r in rewards if r <= END_WIDTH) / len(rewards)
    high = sum(1 for r in rewards if r >= 1 - END_WIDTH) / len(rewards)
    return (low + high >= BIMODAL_END_SHARE and low >= BIMODAL_MIN_SIDE
            and high >= BIMODAL_MIN_SIDE)


def diagnose(stats: ScoreStats, rewards: Sequence[float], flat_share: float,
             error_share: float, thresholds: Thresholds = Thresholds()) -> list[Finding]:
    """Every row of the table that the scores match, plus the flat-prompt and error signals."""
    if stats.count == 0:
        return [Finding(signal="No sample was scored",
                        grader_issue="Every rollout failed or the grader failed on every sample",
                        recommendation=ADJUST_GRADER)]
    findings: list[Finding] = []
    if stats.mean < LOW_MEAN:
        findings.append(Finding(
            signal=f"Mean {stats.mean:.2f} < {LOW_MEAN:.2f}",
            dataset_issue="Prompts too difficult: the base model can't perform these tasks",
            grader_issue="Scoring too strict: the grader rejects valid outputs",
            recommendation=f"{RUN_SFT}; {ADJUST_GRADER.lower()} if outputs look right"))
    if stats.mean > HIGH_MEAN:
        findings.append(Finding(
            signal=f"Mean {stats.mean:.2f} > {HIGH_MEAN:.2f}",
            dataset_issue="Prompts too easy: the base model already solves them",
            grader_issue="Scoring too lenient: the grader pays poor outputs",
            recommendation=f"{REVIEW_DATASET} (harder prompts); {ADJUST_GRADER.lower()}"))
    if stats.std < LOW_STD:
        findings.append(Finding(
            signal=f"Std {stats.std:.2f} < {LOW_STD:.2f}",
            grader_issue="The grader can't differentiate outputs",
            recommendation=ADJUST_GRADER))
    if is_bimodal(rewards):
        findings.append(Finding(
            signal="Bimodal: scores sit at 0 and 1",
            grader_issue="The grader needs calibration: it gives no partial credit",
            recommendation=f"{ADJUST_GRADER}: score partial answers between 0 and 1"))
    if flat_share > thresholds.max_flat_share:
        findings.append(Finding(
            signal=f"{flat_share:.0%} of prompts scored the same on every sample",
            dataset_issue="Those prompts give GRPO no signal to learn from",
            recommendation=PRUNE))
    if error_share > thresholds.max_error_share:
        findings.append(Finding(
            signal=f"{error_share:.0%} of samples are grader errors",
            grader_issue="The grader fails instead of scoring (judge down or garbled, "
                         "template fields missing, sandbox errors)",
            recommendation=ADJUST_GRADER))
    return findings


def flat_prompts(scores: Sequence[Score]) -> tuple[list[str], list[str], float]:
    """(all-pass ids, all-fail ids, share of prompts with k >= 2 samples that all tie)."""
    by_prompt: dict[str, list[float]] = defaultdict(list)
    for score in scores:
        by_prompt[score.prompt_id].append(score.reward)
    compared = {p: r for p, r in by_prompt.items() if len(r) >= 2}
    flat = {p: r for p, r in compared.items() if max(r) - min(r) <= FLAT_TOLERANCE}
    all_pass = sorted(p for p, r in flat.items() if min(r) >= 1 - END_WIDTH)
    all_fail = sorted(p for p, r in flat.items() if max(r) <= END_WIDTH)
    share = len(flat) / len(compared) if compared else 0.0
    return all_pass, all_fail, share


def build_report(*, job_id: str, dataset: str, model: str, grader_name: str,
                 samples_per_prompt: int, scores: Sequence[Score], bins: int = 20,
                 thresholds: Thresholds = Thresholds()) -> DryRunReport:
    """The whole report from the scores; rollouts the model never answered are counted apart."""
    ordered = sorted(scores, key=lambda s: (s.prompt_id, s.sample_index))
    scored = [s for s in ordered if s.rollout_error is None]
    rewards = [s.reward for s in scored]
    stats = score_stats(rewards)
    errors: Counter[str] = Counter(flag for s in scored for flag, raised in s.errors.items()
                                   if raised)
    errored = sum(1 for s in scored if any(s.errors.values()))
    all_pass, all_fail, flat_share = flat_prompts(scored)
    by_topic_rewards: dict[str, list[float]] = defaultdict(list)
    for score in scored:
        by_topic_rewards["/".join(score.topic_path) or "all"].append(score.reward)
    findings = diagnose(stats, rewards, flat_share, errored / len(scored) if scored else 0.0,
                        thresholds)
    recommendations: list[str] = []
    for finding in findings:
        if finding.recommendation and finding.recommendation not in recommendations:
            recommendations.append(finding.recommendation)
    if (all_pass or all_fail) and PRUNE not in recommendations:
        recommendations.append(PRUNE)
    return DryRunReport(
        id=job_id, dataset=dataset, model=model, grader_name=grader_name,
        prompts=len({s.prompt_id for s in ordered}), samples_per_prompt=samples_per_prompt,
        stats=stats, histogram=histogram(rewards, bins),
        by_topic={t: score_stats(r) for t, r in sorted(by_topic_rewards.items())},
        flat_prompt_share=flat_share, findings=findings,
        verdict=Verdict.NO_GO if findings else Verdict.GO,
        reasons=[f.signal for f in findings] or [
            f"Mean {stats.mean:.2f} and std {stats.std:.2f}: the base model partially solves "
            "the tasks and the grader differentiates its outputs"],
        recommendations=recommendations, grader_errors=dict(sorted(errors.items())),
        failed_rollouts=len(ordered) - len(scored),
        all_pass_prompt_ids=all_pass, all_fail_prompt_ids=all_fail, samples=list(ordered),
    )
