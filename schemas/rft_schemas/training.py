"""Steps I and J contracts: training jobs, their events, and the before/after comparison."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.rollouts import ScoreStats


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class TrainingJob(Contract):
    id: str
    dataset: str
    base_model: str
    backend: str = "trl-grpo"
    status: JobStatus = JobStatus.QUEUED
    epochs: int = Field(default=1, ge=1)
    max_steps: int | None = None
    eval_every_steps: int = Field(default=50, ge=1)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    output_model: str | None = None
    error: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class TrainingEvent(Contract):
    job_id: str
    step: int
    total_steps: int
    epoch: float
    train_reward: float | None = None
    valid_reward: float | None = None
    loss: float | None = None
    eta_seconds: float | None = None
    status: JobStatus = JobStatus.RUNNING
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class TopicDelta(Contract):
    before: float
    after: float
    change: float = Field(description="relative change, (after - before) / before")
    regression: bool


class EvalComparison(Contract):
    job_id: str
    base_model: str
    tuned_model: str
    before: ScoreStats
    after: ScoreStats
    by_topic: dict[str, TopicDelta] = Field(default_factory=dict)
    regressions: list[str] = Field(default_factory=list)
