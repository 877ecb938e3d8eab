"""``build_grader``: a validated config in, a callable grader out."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from rft_grader.formula import parse_formula
from rft_grader.graders.base import BaseGrader
from rft_grader.graders.model_judges import LabelModel, ScoreModel
from rft_grader.graders.multi import Multi
from rft_grader.graders.python_code import PythonCode
from rft_grader.graders.string_check import StringCheck
from rft_grader.graders.text_similarity import TextSimilarity
from rft_grader.judging import Embedder, JudgeClient
from rft_grader.sandbox.client import SandboxLimits
from rft_grader.sandbox.remote import RemoteSandbox
from rft_grader.settings import GraderSettings
from rft_grader.validation import validate_grader
from rft_schemas.grader import (
    Grader,
    GraderConfig,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    StringCheckGrader,
    TextSimilarityGrader,
    ValidationIssue,
)

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Grader)


class GraderConfigError(ValueError):
    def __init__(self, issues: list[ValidationIssue]) -> None:
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))
        self.issues = issues


def sandbox_limits(settings: GraderSettings) -> SandboxLimits:
    return SandboxLimits(
        wall_time_s=settings.grader_sandbox_wall_time_s,
        cpu_seconds_per_request=settings.grader_sandbox_cpu_seconds,
        memory_bytes=settings.grader_sandbox_memory_mb << 20,
        file_size_bytes=settings.grader_sandbox_file_mb << 20,
        uid=settings.grader_sandbox_uid,
        gid=settings.grader_sandbox_uid,
        require_landlock=not settings.grader_sandbox_allow_without_landlock,
    )


def build_grader(config: GraderConfig | Grader | dict[str, Any], *,
                 judge: JudgeClient | None = None, embedder: Embedder | None = None,
                 settings: GraderSettings | None = None) -> BaseGrader:
    """Raises :class:`GraderConfigError` for an invalid config; call ``close()`` when done."""
    issues = validate_grader(config)
    if issues:
        raise GraderConfigError(issues)
    if isinstance(config, dict):
        config = (GraderConfig.model_validate(config) if "grader" in config
                  and "type" not in config else _ADAPTER.validate_python(config))
    if isinstance(config, GraderConfig):
        config = config.grader
    settings = settings or GraderSettings()
    if embedder is None and _uses_cosine(config):
        from rft_grader.embedding import configured_embedder

        embedder = configured_embedder(settings)
    grader = _build(config, judge, embedder, settings)
    _bound_rewards(grader, settings.grader_max_abs_reward)
    return grader


def _bound_rewards(grader: BaseGrader, bound: float) -> None:
    grader.max_abs_reward = bound
    for sub in getattr(grader, "graders", {}).values():
        _bound_rewards(sub, bound)


def _uses_cosine(config: Any) -> bool:
    if isinstance(config, TextSimilarityGrader):
        return config.evaluation_metric == "cosine"
    if isinstance(config, MultiGrader):
        return any(_uses_cosine(sub) for sub in config.graders.values())
    return False


def _build(config: Any, judge: JudgeClient | None, embedder: Embedder | None,
           settings: GraderSettings) -> BaseGrader:
    if isinstance(config, StringCheckGrader):
        return StringCheck(config)
    if isinstance(config, TextSimilarityGrader):
        return TextSimilarity(config, embedder=embedder, wordnet_dir=settings.grader_wordnet_dir,
                              max_chars=settings.grader_metric_max_chars)
    if isinstance(config, ScoreModelGrader | LabelModelGrader):
        if judge is None:
            raise ValueError(f"grader {config.name!r} ({config.type}) needs a judge client")
        cls = ScoreModel if isinstance(config, ScoreModelGrader) else LabelModel
        return cls(config, judge, attempts=settings.grader_judge_attempts,  # type: ignore[arg-type]
                   timeout_s=settings.grader_judge_timeout_s)
    if isinstance(config, PythonGrader):
        remote = None
        if settings.grader_sandbox_url:
            remote = RemoteSandbox(settings.grader_sandbox_url,
                                   settings.grader_sandbox_wall_time_s + 30,
                                   token=settings.api_token)
        return PythonCode(config, sandbox_limits(settings), remote)
    assert isinstance(config, MultiGrader)
    subs = {key: _build(sub, judge, embedder, settings) for key, sub in config.graders.items()}
    return Multi(config.name, subs, parse_formula(config.calculate_output, names=subs.keys()))
