"""Steps E and F contracts: generation requests, synthetic prompts, the split manifest."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.names import DatasetName
from rft_schemas.traces import SanitizedPrompt
from rft_schemas.training import JobStatus


class QualitySettings(Contract):
    novelty_max_cosine: float = Field(default=0.92, ge=0.0, le=1.0)
    topic_min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    judge_min_score: float | None = Field(default=None, ge=0.0, le=1.0)


class GenerationRequest(Contract):
    id: str
    dataset: DatasetName
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
    candidates_per_request: int = Field(
        default=8, ge=1, description="samples (n) asked of the LLM per request for one topic"
    )
    max_attempts_per_prompt: float = Field(
        default=4.0, ge=1.0, description="a topic stops after target x this many candidates"
    )


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


class GenerationFailure(StrEnum):
    """Why a candidate was not kept (structure failures count under the sanitizer's codes)."""

    EMPTY = "empty"
    WRONG_SHAPE = "wrong_shape"
    REFUSAL = "refusal"
    COPY_OF_EXAMPLE = "copy_of_example"
    NEAR_DUPLICATE = "near_duplicate"
    WRONG_TOPIC = "wrong_topic"
    LOW_QUALITY = "low_quality"


class TopicProgress(Contract):
    """One topic of a generation job: the seed's step-E lines as data."""

    topic: str = Field(description="topic path 'a/b'")
    target: int
    generated: int = Field(default=0, description="candidates accepted")
    attempts: int = Field(default=0, description="candidates validated")
    failures: dict[str, int] = Field(default_factory=dict, description="reason -> candidates")
    previews: list[str] = Field(default_factory=list, description="user turns of kept prompts")

    @property
    def valid_share(self) -> float:
        return self.generated / self.attempts if self.attempts else 0.0


class GenerationJob(Contract):
    """A durable generation job (``GET /v1/generation-jobs/{id}``)."""

    id: str
    request: GenerationRequest
    status: JobStatus = JobStatus.QUEUED
    error: str | None = None
    topics: list[TopicProgress] = Field(default_factory=list)
    generator_model: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def pass_rate(self) -> float:
        attempts = sum(t.attempts for t in self.topics)
        return sum(t.generated for t in self.topics) / attempts if attempts else 0.0


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
    before: dict[str, int] = Field(
        default_factory=dict, description="topic -> prompts from traces (before generation)"
    )
    assignments: dict[str, str] = Field(default_factory=dict, description="prompt id -> split")


class SplitRequest(Contract):
    """``POST /v1/datasets/{dataset}/split`` (the generator): step F's options, as ``rft split``
    takes them."""

    seed: int = 0
    valid_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    valid_real_only: bool = Field(default=True, description="valid holds only real traces")
    near_duplicate_cosine: float = Field(
        default=0.95, ge=0.0, le=1.01,
        description="a train prompt this close to a valid one is a leak (above 1: no guard)",
    )


class DatasetSplit(Contract):
    """A dataset's step-F split as the generator stores and serves it: the manifest (the
    distribution) and the train/valid rows, each an OpenAI RFT row (the grader's item)."""

    dataset: str
    request: SplitRequest
    manifest: SplitManifest
    train_rows: int
    valid_rows: int
    synthetic_jobs: list[str] = Field(
        default_factory=list, description="generation jobs whose accepted prompts are in it"
    )
    train: list[dict[str, Any]] | None = Field(
        default=None, description="the rows; None when asked without rows (?rows=false)"
    )
    valid: list[dict[str, Any]] | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
