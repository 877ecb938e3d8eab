"""Steps E and F contracts: generation requests, synthetic prompts, the split manifest."""

from __future__ import annotations

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.traces import SanitizedPrompt


class QualitySettings(Contract):
    novelty_max_cosine: float = Field(default=0.92, ge=0.0, le=1.0)
    topic_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    judge_min_score: float | None = Field(default=None, ge=0.0, le=1.0)


class GenerationRequest(Contract):
    id: str
    dataset: str
    targets: dict[str, int] | None = Field(
        default=None, description="topic path 'a/b' -> prompts to add; None takes coverage's"
    )
    few_shot: int = Field(default=4, ge=1)
    temperature: float = Field(default=0.9, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=1)
    seed: int = 0
    model: str | None = None
    quality: QualitySettings = Field(default_factory=QualitySettings)


class ValidationCheck(Contract):
    name: str
    passed: bool
    score: float | None = None
    detail: str = ""


class SyntheticPrompt(Contract):
    prompt: SanitizedPrompt
    topic_path: list[str]
    job_id: str
    generator_model: str
    seed_example_ids: list[str]
    validation: list[ValidationCheck]


class LeakageMove(Contract):
    prompt_id: str
    moved_to: str
    near_duplicate_of: str
    cosine: float


class SplitManifest(Contract):
    dataset: str
    seed: int
    valid_fraction: float = Field(ge=0.0, lt=1.0)
    stratify_by: str = "topic"
    valid_real_only: bool = True
    near_duplicate_cosine: float
    counts: dict[str, dict[str, int]] = Field(description="split -> topic -> count")
    sources: dict[str, dict[str, int]] = Field(description="split -> origin -> count")
    leakage_moves: list[LeakageMove] = Field(default_factory=list)
    assignments: dict[str, str] = Field(default_factory=dict, description="prompt id -> split")
