"""A reward is a finite number within ``grader_max_abs_reward``, else no grade: reward 0 and a
grader error flag (a python grader returned 1e300 and it was paid as a reward)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from rft_grader import Sample, build_grader
from rft_grader.graders.base import BaseGrader, Graded, Item, Outcome
from rft_grader.settings import GraderSettings
from rft_schemas import GradeResult


def grade(config: dict[str, Any], settings: GraderSettings | None = None) -> GradeResult:
    grader = build_grader(config, settings=settings)
    try:
        return asyncio.run(grader(Sample("Paris"), {"answer": "Paris"}))
    finally:
        grader.close()


class Fixed(BaseGrader):
    type = "fixed"

    def __init__(self, reward: Any, sub_rewards: dict[str, Any] | None = None) -> None:
        super().__init__("fixed")
        self.reward, self.sub_rewards = reward, sub_rewards or {}

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        return self.reward, self.sub_rewards


@pytest.mark.parametrize("reward", [math.nan, math.inf, -math.inf, 1e300, -2e6, "0.5", None])
def test_a_reward_that_is_not_a_number_in_range_is_a_grader_error(reward: Any) -> None:
    result = asyncio.run(Fixed(reward)(Sample("x"), {}))
    assert result.reward == 0.0
    assert result.errors.other_error
    assert "is not a finite number" in result.error_details[0]


@pytest.mark.parametrize("reward", [0.0, 1.0, -3.5, 1e6])
def test_rewards_within_the_bound_are_kept(reward: float) -> None:
    result = asyncio.run(Fixed(reward, {"a": 0.5})(Sample("x"), {}))
    assert result.reward == reward and not result.errors.any()


def test_a_sub_reward_that_is_not_finite_is_a_grader_error() -> None:
    result = asyncio.run(Fixed(1.0, {"a": math.nan, "b": 1.0})(Sample("x"), {}))
    assert result.reward == 0.0 and result.errors.other_error
    assert result.sub_rewards == {"b": 1.0}


def test_a_python_grader_returning_1e300_is_a_python_grader_error() -> None:
    result = grade({"type": "python", "name": "p",
                    "source": "def grade(sample, item):\n    return 1e300\n"})
    assert result.reward == 0.0
    assert result.errors.python_grader_runtime_error
    assert any("1e+300" in d for d in result.error_details)


def test_a_multi_formula_beyond_the_configured_bound_is_a_grader_error() -> None:
    exact = {"type": "string_check", "name": "a", "operation": "eq",
             "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
    config = {"type": "multi", "name": "m", "calculate_output": "a * 50", "graders": {"a": exact}}
    assert grade(config).reward == 50.0
    bounded = grade(config, GraderSettings(grader_max_abs_reward=10))
    assert bounded.reward == 0.0 and bounded.errors.other_error
    assert bounded.sub_rewards == {"a": 1.0}
