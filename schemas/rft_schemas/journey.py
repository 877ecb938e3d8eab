"""The trainer gateway's journey contracts: steps F to J of one dataset, driven through the
owning services' APIs (``POST /v1/datasets/{dataset}/journey``), with each step's state.

A journey is stored durably by the gateway; each step keeps what a restarted gateway needs to
go on without doing a finished thing twice (the dry run's and the training job's ids)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.generation import SplitRequest
from rft_schemas.rollouts import Verdict
from rft_schemas.training import DeployRequest, JobStatus, TrainingHyperparameters

JourneyLetter = Literal["F", "G", "H", "I", "J"]
JOURNEY_STEPS: tuple[JourneyLetter, ...] = ("F", "G", "H", "I", "J")
STEP_TITLES: dict[str, str] = {
    "F": "Final distribution and split", "G": "Define grader", "H": "Dry run", "I": "Train",
    "J": "Results and deploy",
}


def _now() -> datetime:
    return datetime.now(UTC)


class DryRunOptions(Contract):
    """Step H's size (the grader's ``POST /v1/dry-runs`` fields)."""

    prompt_count: int | None = Field(
        default=None, ge=1, description="N, stratified by topic; unset = the grader's default "
        "for its model backend (200 on an endpoint, 8 on the local CPU model)",
    )
    samples_per_prompt: int = Field(default=2, ge=1, description="k")
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int = 0
    model: str | None = None


class JourneyRequest(Contract):
    """``POST /v1/datasets/{dataset}/journey``: run F to ``until``; options per step."""

    until: Literal["H", "J"] = "J"
    split: SplitRequest = Field(default_factory=SplitRequest)
    grader: dict[str, Any] | None = Field(
        default=None, description="grader_config.json or one grader (OpenAI JSON); unset = the "
        "preset the grader service chooses from the train rows",
    )
    dry_run: DryRunOptions = Field(default_factory=DryRunOptions)
    tool_choice: Literal["auto", "required"] | None = Field(
        default=None, description="for the dry run's rollouts and training alike; unset = each "
        "service's default",
    )
    base_model: str | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    hyperparameters: TrainingHyperparameters | None = Field(
        default=None, description="unset = the gateway's default budget for the device (the CPU "
        "budget unless device is cuda)",
    )
    stop_on_no_go: bool = Field(
        default=False, description="a NO-GO dry run fails step H instead of training anyway "
        "(as `rft run` does)",
    )
    restart: bool = Field(
        default=False, description="start every step over; unset = a journey posted again goes "
        "on from its first step not done (steps done keep their outputs)",
    )
    deploy: DeployRequest | None = Field(
        default=None, description="step J deploys the best checkpoint so (the gate decides "
        "unless forced); unset = results only",
    )


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SplitOutput(Contract):
    train_rows: int
    valid_rows: int
    counts: dict[str, dict[str, int]] = Field(description="split -> topic -> count")
    synthetic_jobs: list[str] = Field(default_factory=list)


class GraderOutput(Contract):
    name: str
    source: Literal["request", "preset"]
    preset: str | None = None
    config: dict[str, Any]


class DryRunOutput(Contract):
    job_id: str
    done: int = 0
    total: int = 0
    verdict: Verdict | None = None
    reasons: list[str] = Field(default_factory=list)
    mean: float | None = None


class TrainingOutput(Contract):
    job_id: str
    status: JobStatus = JobStatus.QUEUED
    step: int = 0
    total_steps: int = 0
    error: str | None = None


class ResultsOutput(Contract):
    job_id: str
    before_mean: float
    after_mean: float
    deployable: bool
    gate_reasons: list[str] = Field(default_factory=list)
    deployed_model: str | None = None
    deploy_refused: str | None = Field(default=None, description="why no deploy was made")


class JourneyStep(Contract):
    step: JourneyLetter
    title: str
    status: StepStatus = StepStatus.PENDING
    reason: str | None = Field(default=None, description="why it failed")
    started_at: datetime | None = None
    finished_at: datetime | None = None
    split: SplitOutput | None = None
    grader: GraderOutput | None = None
    dry_run: DryRunOutput | None = None
    training: TrainingOutput | None = None
    results: ResultsOutput | None = None


class JourneyStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Journey(Contract):
    """``GET /v1/datasets/{dataset}/journey``: each step's status and outputs."""

    dataset: str
    status: JourneyStatus = JourneyStatus.RUNNING
    request: JourneyRequest
    steps: list[JourneyStep] = Field(default_factory=lambda: [
        JourneyStep(step=s, title=STEP_TITLES[s]) for s in JOURNEY_STEPS])
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)

    def step(self, letter: str) -> JourneyStep:
        return next(s for s in self.steps if s.step == letter)
