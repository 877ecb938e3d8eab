from __future__ import annotations

import asyncio

from rft_grader.formula import Formula, FormulaEvalError
from rft_grader.graders.base import BaseGrader, Graded, Item, Outcome
from rft_grader.sample import Sample


class Multi(BaseGrader):
    """Named sub-graders run concurrently; ``calculate_output`` combines their rewards."""

    type = "multi"

    def __init__(self, name: str, graders: dict[str, BaseGrader], formula: Formula) -> None:
        super().__init__(name)
        self.graders = graders
        self.formula = formula

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        names = list(self.graders)
        results = await asyncio.gather(*(self.graders[n](sample, item) for n in names))
        sub_rewards = {}
        for key, result in zip(names, results, strict=True):
            sub_rewards[key] = result.reward
            out.merge(result)
        try:
            reward = self.formula.evaluate(sub_rewards)
        except FormulaEvalError as exc:
            out.flag("other_error", f"calculate_output {self.formula.text!r}: {exc}")
            reward = 0.0
        return reward, sub_rewards

    def close(self) -> None:
        for grader in self.graders.values():
            grader.close()
