from __future__ import annotations

from rft_grader.graders.base import BaseGrader, Graded, Item, Outcome
from rft_grader.sample import Sample
from rft_schemas.grader import StringCheckGrader


class StringCheck(BaseGrader):
    """``eq``/``ne`` compare whole strings; ``like`` is "contains" and ``ilike`` the same
    ignoring case, as OpenAI defines them (no SQL wildcards)."""

    type = "string_check"

    def __init__(self, config: StringCheckGrader) -> None:
        super().__init__(config.name)
        self.config = config

    async def _grade(self, out: Outcome, sample: Sample, item: Item) -> Graded:
        text = out.render(self.config.input, sample, item)
        reference = out.render(self.config.reference, sample, item)
        op = self.config.operation
        if op == "eq":
            passed = text == reference
        elif op == "ne":
            passed = text != reference
        elif op == "like":
            passed = reference in text
        else:
            passed = reference.casefold() in text.casefold()
        return (1.0 if passed else 0.0), {}
