"""The job's grader as GRPO's reward: the same code and config the dry run scores with.

TRL calls a reward function with the completions and the dataset's other columns. The dataset
carries only the rendered prompt and the row's index (Arrow wants one type per column, and a
row's item is free-form JSON), so the item is looked up here. Each sub-grader's mean goes to
TRL's metrics through its ``log_metric`` hook, so curves exist per grader.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.graders.base import BaseGrader, grade_many
from rft_schemas import GradeResult
from rft_trainer_gateway.prompting import sample_of

Runner = Callable[[Coroutine[Any, Any, list[GradeResult]]], list[GradeResult]]


GRADER_ERROR_METRIC = "grader_error_share"


@dataclass(frozen=True)
class Scored:
    reward: float
    sub_rewards: dict[str, float]
    errors: list[str]


def sub_reward_means(results: Sequence[Scored]) -> dict[str, float]:
    sums: dict[str, list[float]] = defaultdict(list)
    for result in results:
        for name, value in result.sub_rewards.items():
            sums[name].append(value)
    return {name: sum(values) / len(values) for name, values in sums.items()}


class GraderReward:
    """``reward(prompts, completions, row=[...], log_metric=...) -> rewards``."""

    def __init__(self, grader: BaseGrader, rows: Sequence[DryRunPrompt], *,
                 run: Runner = asyncio.run, concurrency: int = 16,
                 tool_choice: str = "auto") -> None:
        self.grader = grader
        self.rows = rows
        self.tool_choice = tool_choice  # the prompts' prefill is part of each answer scored
        self.run = run
        self.concurrency = concurrency
        self.__name__ = grader.name  # TRL names the reward's metrics after it

    def score(self, completions: Sequence[str], row_indices: Sequence[int]) -> list[Scored]:
        pairs = [(sample_of(text, self.rows[i], self.tool_choice), self.rows[i].item)
                 for text, i in zip(completions, row_indices, strict=True)]
        results = self.run(grade_many(self.grader, pairs, concurrency=self.concurrency))
        return [_scored(result) for result in results]

    def __call__(self, prompts: list[Any], completions: list[Any], row: list[int],
                 log_metric: Callable[[str, float], None] | None = None,
                 **_: Any) -> list[float]:
        scored = self.score([_text(c) for c in completions], row)
        if log_metric is not None:
            for name, mean in sub_reward_means(scored).items():
                log_metric(f"graders/{name}", mean)
            log_metric(GRADER_ERROR_METRIC, sum(1 for s in scored if s.errors) / len(scored))
        return [s.reward for s in scored]


def _text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    # A conversational completion: the assistant turns' text.
    return "\n".join(str(m.get("content") or "") for m in completion or [])


def _scored(result: GradeResult) -> Scored:
    raised = [flag for flag, on in result.errors.flags().items() if on]
    return Scored(reward=result.reward, sub_rewards=dict(result.sub_rewards), errors=raised)
