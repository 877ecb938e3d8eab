"""Step J's statistics: base model against the tuned one on the same prompts, pure functions.

Per prompt the reward is the mean over its k samples (same seeds for both models), so a prompt
is one paired observation. The interval of a mean change is a paired bootstrap over prompts.
With many topics, some interval would miss zero by chance alone: each topic's interval is
widened by Bonferroni (confidence 1 - alpha / topics), so "wholly below zero" stays a
regression claim at the stated family-wise level.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rft_schemas import (
    BehaviourShift,
    EvalComparison,
    Interval,
    SampleComparison,
    ScoreStats,
    TopicDelta,
)

BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class SampleOutcome:
    """One scored sample of one model."""

    prompt_id: str
    topic: str
    sample_index: int
    output: str
    reward: float
    completion_tokens: int
    tool_calls: int


@dataclass(frozen=True)
class PairedPrompt:
    prompt_id: str
    topic: str
    prompt: str
    before: float
    after: float
    before_best: SampleOutcome
    after_best: SampleOutcome

    @property
    def change(self) -> float:
        return self.after - self.before


def stats_of(values: Sequence[float]) -> ScoreStats:
    if not values:
        return ScoreStats(count=0, mean=0.0, std=0.0, min=0.0, max=0.0)
    return ScoreStats(count=len(values), mean=statistics.fmean(values),
                      std=statistics.pstdev(values), min=min(values), max=max(values))


def paired_bootstrap(changes: Sequence[float], confidence: float, seed: int,
                     resamples: int = BOOTSTRAP_RESAMPLES) -> Interval:
    """Percentile interval of the mean change, resampling prompts with replacement."""
    if not changes:
        return Interval(low=0.0, high=0.0)
    rng = random.Random(seed)
    n = len(changes)
    means = sorted(statistics.fmean(rng.choices(changes, k=n)) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[int(tail * (resamples - 1))]
    high = means[round((1 - tail) * (resamples - 1))]
    return Interval(low=low, high=high)


def pair_prompts(before: Sequence[SampleOutcome], after: Sequence[SampleOutcome],
                 prompts: dict[str, str]) -> list[PairedPrompt]:
    """Prompts both models answered; the mean over k per prompt, the best sample kept to show."""
    by_prompt_before = _group(before)
    by_prompt_after = _group(after)
    paired = []
    for prompt_id in sorted(by_prompt_before.keys() & by_prompt_after.keys()):
        b, a = by_prompt_before[prompt_id], by_prompt_after[prompt_id]
        paired.append(PairedPrompt(
            prompt_id=prompt_id, topic=b[0].topic, prompt=prompts.get(prompt_id, ""),
            before=statistics.fmean(s.reward for s in b),
            after=statistics.fmean(s.reward for s in a),
            before_best=max(b, key=lambda s: s.reward), after_best=max(a, key=lambda s: s.reward),
        ))
    return paired


def _group(samples: Sequence[SampleOutcome]) -> dict[str, list[SampleOutcome]]:
    grouped: dict[str, list[SampleOutcome]] = defaultdict(list)
    for sample in samples:
        grouped[sample.prompt_id].append(sample)
    return grouped


def compare(*, job_id: str, base_model: str, tuned_model: str, grader_name: str,
            before: Sequence[SampleOutcome], after: Sequence[SampleOutcome],
            prompts: dict[str, str], samples_per_prompt: int, seed: int,
            confidence: float = 0.95, shown: int = 3) -> EvalComparison:
    paired = pair_prompts(before, after, prompts)
    by_topic_pairs: dict[str, list[PairedPrompt]] = defaultdict(list)
    for pair in paired:
        by_topic_pairs[pair.topic].append(pair)
    topics = len(by_topic_pairs)
    corrected = 1 - (1 - confidence) / max(topics, 1)
    by_topic: dict[str, TopicDelta] = {}
    for number, (topic, pairs) in enumerate(sorted(by_topic_pairs.items())):
        interval = paired_bootstrap([p.change for p in pairs], corrected, seed + 1 + number)
        before_mean = statistics.fmean(p.before for p in pairs)
        after_mean = statistics.fmean(p.after for p in pairs)
        by_topic[topic] = TopicDelta(
            prompts=len(pairs), before=before_mean, after=after_mean,
            change=after_mean - before_mean, interval=interval, regression=interval.high < 0,
        )
    overall = paired_bootstrap([p.change for p in paired], confidence, seed)
    regressions = sorted(t for t, d in by_topic.items() if d.regression)
    ranked = sorted(paired, key=lambda p: p.change)
    comparison = EvalComparison(
        job_id=job_id, base_model=base_model, tuned_model=tuned_model, grader_name=grader_name,
        prompts=len(paired), samples_per_prompt=samples_per_prompt, seed=seed,
        confidence=confidence,
        correction=(f"Bonferroni over {topics} topics: each topic's interval is at "
                    f"{corrected:.4f} confidence"),
        before=stats_of([p.before for p in paired]), after=stats_of([p.after for p in paired]),
        change=statistics.fmean(p.change for p in paired) if paired else 0.0,
        interval=overall, by_topic=by_topic, regressions=regressions,
        completion_tokens=_shift(before, after, lambda s: float(s.completion_tokens)),
        tool_call_rate=_shift(before, after, lambda s: 1.0 if s.tool_calls else 0.0),
        gains=[_shown(p) for p in reversed(ranked[-shown:]) if p.change > 0],
        losses=[_shown(p) for p in ranked[:shown] if p.change < 0],
    )
    return gate(comparison)


def gate(comparison: EvalComparison) -> EvalComparison:
    """Deploy opens when the overall interval lies above zero and no topic regressed."""
    reasons = []
    if comparison.interval.low <= 0:
        reasons.append(
            f"the overall change {comparison.change:+.3f} has a "
            f"{comparison.confidence:.0%} interval [{comparison.interval.low:+.3f}, "
            f"{comparison.interval.high:+.3f}] that does not lie above zero")
    for topic in comparison.regressions:
        delta = comparison.by_topic[topic]
        reasons.append(f"topic {topic} regressed: {delta.change:+.3f}, interval "
                       f"[{delta.interval.low:+.3f}, {delta.interval.high:+.3f}]")
    if not reasons:
        reasons.append(
            f"the overall change {comparison.change:+.3f} lies above zero "
            f"([{comparison.interval.low:+.3f}, {comparison.interval.high:+.3f}]) and no "
            "topic regressed")
        return comparison.model_copy(update={"deployable": True, "gate_reasons": reasons})
    return comparison.model_copy(update={"deployable": False, "gate_reasons": reasons})


def _shift(before: Sequence[SampleOutcome], after: Sequence[SampleOutcome],
           measure: Callable[[SampleOutcome], float]) -> BehaviourShift | None:
    if not before or not after:
        return None
    return BehaviourShift(before=statistics.fmean(measure(s) for s in before),
                          after=statistics.fmean(measure(s) for s in after))


def _shown(pair: PairedPrompt) -> SampleComparison:
    return SampleComparison(
        prompt_id=pair.prompt_id, topic=pair.topic, prompt=pair.prompt[-2000:],
        before_output=pair.before_best.output[:2000], before_reward=pair.before,
        after_output=pair.after_best.output[:2000], after_reward=pair.after, change=pair.change,
    )
