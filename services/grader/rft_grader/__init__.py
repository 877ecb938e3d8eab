"""rft-grader: OpenAI-format graders as plain async callables over (sample, item)."""

from rft_grader.build import GraderConfigError, build_grader
from rft_grader.graders.base import BaseGrader, grade_many, grade_sync
from rft_grader.judging import Embedder, FixedAnswerJudge, JudgeClient, JudgeReply
from rft_grader.sample import Sample, item_field_names, item_from_prompt
from rft_grader.validation import validate_grader

__all__ = [
    "BaseGrader", "Embedder", "FixedAnswerJudge", "GraderConfigError", "JudgeClient",
    "JudgeReply", "Sample", "build_grader", "grade_many", "grade_sync", "item_field_names",
    "item_from_prompt", "validate_grader",
]
