"""What every grader is: an async callable ``(sample, item) -> GradeResult`` that never raises
for a bad sample, a bad judge answer or a failing sandbox: those are flags on the result."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

from rft_grader.sample import Sample
from rft_grader.templating import render
from rft_schemas.grader import GraderErrors, GradeResult, TokenUsage

Item = dict[str, Any]
# (reward, sub-rewards) of one grading call.
Graded = tuple[float, dict[str, float]]

DEFAULT_MAX_ABS_REWARD = 1e6


class Outcome:
    """The flags, details and token usage gathered while grading one sample."""

    __slots__ = ("details", "errors", "usage")

    def __init__(self) -> None:
        self.errors = GraderErrors()
        self.details: list[str] = []
        self.usage: TokenUsage | None = None

    def flag(self, name: str, detail: str) -> None:
        setattr(self.errors, name, True)
        self.details.append(detail)

    def render(self, template: str, sample: Sample, item: Item) -> str:
        rendered = render(template, sample, item)
        if rendered.missing:
            self.flag("invalid_variable_error",
                      "no value for " + ", ".join("{{" + m + "}}" for m in rendered.missing))
        if rendered.sample_not_json:
            self.flag("sample_parse_error", "the sample is not JSON but the template reads "
                                            "sample.output_json")
        return rendered.text

    def add_usage(self, prompt: int, completion: int) -> None:
        usage = self.usage or TokenUsage()
        usage.prompt_tokens += prompt
        usage.completion_tokens += completion
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        self.usage = usage

    def merge(self, result: GradeResult) -> None:
        for key, value in result.errors.model_dump().items():
            if value and not getattr(self.errors, key):
                setattr(self.errors, key, value)
        self.details.extend(f"{result.name}: {d}" for d in result.error_details)
        if result.token_usage is not None:
            self.add_usage(result.token_usage.prompt_tokens, result.token_usage.completion_tokens)


class BaseGrader:
    type: str = ""
    # The flag a reward that is not a number in range raises (a python grader's own).
    invalid_reward_flag = "other_error"

    def __init__(self, name: str) -> None:
        self.name = name
        # A reward beyond it (a python grader returned 1e300) would swamp every statistic of a
        # run: build_grader sets it from ``grader_max_abs_reward``.
        self.max_abs_reward = DEFAULT_MAX_ABS_REWARD

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        raise NotImplementedError

    async def __call__(self, sample: Sample, item: Item) -> GradeResult:
        started = time.perf_counter()
        out = Outcome()
        sub_rewards: dict[str, float] = {}
        try:
            reward, sub_rewards = await self._grade(out, sample, item)
        except Exception as exc:
            out.flag("other_error", f"{type(exc).__name__}: {exc}")
            reward = 0.0
        invalid = self._invalid_reward(reward, sub_rewards)
        if invalid:
            out.flag(self.invalid_reward_flag, invalid)
            sub_rewards = {k: v for k, v in sub_rewards.items() if _in_range(v, math.inf)}
        if out.errors.any():
            # A raised flag means no real grade was made: the reward is 0 and the flag counts.
            reward = 0.0
        return GradeResult(
            name=self.name, type=self.type, reward=reward, sub_rewards=sub_rewards,
            errors=out.errors, error_details=out.details, token_usage=out.usage,
            execution_time=time.perf_counter() - started,
        )

    def close(self) -> None:
        """Release what the grader holds (sandbox processes); a no-op for most."""

    def _invalid_reward(self, reward: object, sub_rewards: dict[str, float]) -> str | None:
        """Why the reward is not a grade (not a finite number within the bound), or None."""
        if not _in_range(reward, self.max_abs_reward):
            return (f"reward {reward!r} is not a finite number in "
                    f"[-{self.max_abs_reward:g}, {self.max_abs_reward:g}]")
        bad = [key for key, value in sub_rewards.items() if not _in_range(value, math.inf)]
        if bad:
            return f"sub-rewards {', '.join(bad)} are not finite numbers"
        return None


def _in_range(value: object, bound: float) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and abs(value) <= bound)


async def grade_many(grader: BaseGrader, pairs: Sequence[tuple[Sample, Item]], *,
                     concurrency: int = 16) -> list[GradeResult]:
    """Grade many samples, at most ``concurrency`` at a time (judges are I/O-bound), in order."""
    limit = asyncio.Semaphore(concurrency)

    async def one(sample: Sample, item: Item) -> GradeResult:
        async with limit:
            return await grader(sample, item)

    return list(await asyncio.gather(*(one(s, i) for s, i in pairs)))


def grade_sync(grader: BaseGrader, sample: Sample, item: Item) -> GradeResult:
    """For synchronous callers (a TRL reward function); not for use inside an event loop."""
    return asyncio.run(grader(sample, item))
