"""The pure cores of ``POST /v1/graders:validate`` and ``POST /v1/graders:run``, which mirror
OpenAI's validate and run endpoints; the HTTP and CLI shells call these and nothing else."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from rft_grader.build import build_grader
from rft_grader.judging import Embedder, JudgeClient
from rft_grader.sample import Sample
from rft_grader.settings import GraderSettings
from rft_grader.validation import validate_grader
from rft_schemas.grader import (
    GradeResult,
    GraderRunMetadata,
    GraderRunRequest,
    GraderRunResponse,
    GraderValidateResponse,
    LabelModelGrader,
    MultiGrader,
    ScoreModelGrader,
)


def validate_endpoint(grader: dict[str, Any],
                      dataset_fields: Collection[str] | None = None) -> GraderValidateResponse:
    return GraderValidateResponse(grader=grader, issues=validate_grader(grader, dataset_fields))


def judge_models(grader: Any) -> list[str]:
    if isinstance(grader, ScoreModelGrader | LabelModelGrader):
        return [grader.model]
    if isinstance(grader, MultiGrader):
        return sorted({m for sub in grader.graders.values() for m in judge_models(sub)})
    return []


def run_response(result: GradeResult, models: list[str]) -> GraderRunResponse:
    per_model = {}
    if result.token_usage is not None and models:
        # Usage is summed per grading call; with several judge models it is reported under
        # their joined names rather than split by a guess.
        per_model[",".join(models)] = result.token_usage
    return GraderRunResponse(
        reward=result.reward,
        sub_rewards=result.sub_rewards,
        metadata=GraderRunMetadata(
            name=result.name, type=result.type, errors=result.errors,
            execution_time=result.execution_time, scores=dict(result.sub_rewards),
            token_usage=result.token_usage,
        ),
        model_grader_token_usage_per_model=per_model,
    )


async def run_endpoint(request: GraderRunRequest, *, judge: JudgeClient | None = None,
                       embedder: Embedder | None = None,
                       settings: GraderSettings | None = None) -> GraderRunResponse:
    """Grades one ``model_sample``; raises GraderConfigError for an invalid grader."""
    grader = build_grader(request.grader, judge=judge, embedder=embedder, settings=settings)
    try:
        result = await grader(Sample(request.model_sample, list(request.output_tools)),
                              request.item)
    finally:
        grader.close()
    return run_response(result, judge_models(request.grader))
