"""Steps I and J contracts: training jobs, their events, checkpoints, the before/after
comparison and deploys.

A job's request is shaped after OpenAI's fine-tuning jobs: the rows (inline, or a file the
gateway can read), the grader (OpenAI grader JSON, the same config the dry run scored with), the
base model, the backend and the hyperparameters. Everything here crosses the gateway's API or
the ``rft.training.events.v1`` topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from rft_schemas.base import Contract
from rft_schemas.rollouts import ScoreStats


def _now() -> datetime:
    return datetime.now(UTC)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class TrainingBackendName(StrEnum):
    TRL = "trl"  # TRL's GRPOTrainer in a child process of the gateway (CPU or one GPU)
    KUBERNETES = "kubernetes"  # the same entrypoint as a Kubernetes Job / Kubeflow TrainJob


class AdapterKind(StrEnum):
    LORA = "lora"
    FULL = "full"


class TrainingHyperparameters(Contract):
    """What a user tunes. Defaults are sized per machine by the caller (see the gateway's
    ``budget`` module): these are the values for a GPU or an endpoint."""

    max_steps: int | None = Field(
        default=None, ge=1, description="optimizer steps; unset: epochs over the train split"
    )
    epochs: float = Field(default=1.0, gt=0, description="used when max_steps is unset")
    prompts_per_step: int = Field(default=8, ge=1, description="distinct prompts per step")
    samples_per_prompt: int = Field(
        default=8, ge=2, description="k: completions per prompt, one GRPO group (needs >= 2)"
    )
    batch_size: int | None = Field(
        default=None, ge=2,
        description="completions per step; must be divisible by k (unset: prompts_per_step x k)",
    )
    max_completion_tokens: int = Field(default=256, ge=1)
    learning_rate: float = Field(default=1e-5, gt=0)
    adapter: AdapterKind = AdapterKind.LORA
    lora_rank: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    loss_type: Literal["dapo", "dr_grpo", "grpo", "bnpo"] = Field(
        default="dapo",
        description="token-level normalisation over the batch: no length bias (TRL's default)",
    )
    beta: float = Field(
        default=0.0, ge=0,
        description="KL penalty to the reference model; 0 saves a reference forward pass",
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        default="batch",
        description="advantage scaling; 'batch' avoids the per-question difficulty bias of "
                    "'group' while keeping rewards of different graders on one scale",
    )
    temperature: float = Field(default=1.0, gt=0, le=2)
    tool_choice: Literal["auto", "required"] = Field(
        default="auto",
        description="for rows that offer tools, as OpenAI's tool_choice: 'required' when the "
                    "agent must always call a tool (the model is then trained, scored and served "
                    "with the answer opened as a call)",
    )
    eval_every_steps: int = Field(default=10, ge=1)
    eval_prompts: int = Field(default=64, ge=1, description="valid prompts scored at each eval")
    eval_samples_per_prompt: int = Field(default=2, ge=1, description="k at each eval")
    final_eval_samples_per_prompt: int = Field(
        default=4, ge=1, description="k of step J's before/after comparison"
    )
    final_eval_prompts: int | None = Field(
        default=None, ge=1, description="valid prompts in step J's comparison (unset: all)"
    )
    keep_best_checkpoints: int = Field(default=2, ge=1, description="best K by valid reward")
    seed: int = 0
    wall_clock_budget_s: float | None = Field(
        default=None, gt=0, description="training stops at the step boundary past this"
    )
    report_to: list[str] = Field(
        default_factory=lambda: ["tensorboard"], description="TRL trackers (wandb, mlflow, ...)"
    )

    @model_validator(mode="after")
    def _batch_fits_groups(self) -> TrainingHyperparameters:
        if self.batch_size is not None and self.batch_size % self.samples_per_prompt:
            raise ValueError(
                f"batch_size {self.batch_size} is not divisible by samples_per_prompt "
                f"{self.samples_per_prompt}: every prompt needs a whole group of k completions"
            )
        return self

    @property
    def step_prompts(self) -> int:
        if self.batch_size is not None:
            return self.batch_size // self.samples_per_prompt
        return self.prompts_per_step

    @property
    def completions_per_step(self) -> int:
        return self.step_prompts * self.samples_per_prompt


class RowsSource(Contract):
    """Rows inline (lines of ``rft_prompts.*.jsonl``) or a file the gateway can read."""

    rows: list[dict[str, Any]] | None = None
    file: str | None = Field(default=None, description="a JSONL path on the gateway's volume")

    @model_validator(mode="after")
    def _exactly_one(self) -> RowsSource:
        if (self.rows is None) == (self.file is None):
            raise ValueError("give exactly one of rows or file")
        return self


class TrainingJobRequest(Contract):
    """``POST /v1/training-jobs``."""

    dataset: str = Field(min_length=1)
    train: RowsSource
    valid: RowsSource
    grader: dict[str, Any] = Field(description="grader_config.json or one grader (OpenAI JSON)")
    base_model: str | None = Field(
        default=None, description="a local checkpoint dir or HF cache name; unset: SmolLM2-135M"
    )
    backend: TrainingBackendName = TrainingBackendName.TRL
    device: Literal["auto", "cpu", "cuda"] = "auto"
    hyperparameters: TrainingHyperparameters = Field(default_factory=TrainingHyperparameters)
    suffix: str | None = Field(default=None, description="goes into the tuned model's name")


class TrainingBudget(Contract):
    """``GET /v1/training-budget``: the hyperparameters a job gets by default on a device, and
    why (a default must fit the machine it runs on)."""

    device: Literal["cpu", "cuda"]
    hyperparameters: TrainingHyperparameters
    reason: str


class TrainingJob(Contract):
    id: str
    dataset: str
    base_model: str
    backend: TrainingBackendName = TrainingBackendName.TRL
    device: Literal["auto", "cpu", "cuda"] = "auto"
    status: JobStatus = JobStatus.QUEUED
    hyperparameters: TrainingHyperparameters = Field(default_factory=TrainingHyperparameters)
    train_rows: int = 0
    valid_rows: int = 0
    grader_name: str = ""
    output_dir: str | None = Field(default=None, description="where the job's files live")
    step: int = 0
    total_steps: int = 0
    best_checkpoint: str | None = None
    tuned_model: str | None = Field(default=None, description="the deployed model's name")
    resumed_from: str | None = Field(
        default=None, description="the checkpoint a restarted job went on from"
    )
    attempts: int = Field(default=0, description="times a training process was started")
    error: str | None = None
    created_at: datetime = Field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class TrainingEventKind(StrEnum):
    STATUS = "status"  # queued, started, re-attached, resumed, cancelled, failed, succeeded
    STEP = "step"  # one optimizer step's metrics
    EVAL = "eval"  # the valid reward at an eval
    CHECKPOINT = "checkpoint"  # a checkpoint written (or pruned)
    RESULTS = "results"  # step J's comparison is ready


class TrainingEvent(Contract):
    job_id: str
    seq: int = Field(default=0, ge=0, description="per job, increasing: the SSE event id")
    kind: TrainingEventKind = TrainingEventKind.STEP
    status: JobStatus = JobStatus.RUNNING
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    progress: float = Field(default=0.0, ge=0, le=1)
    train_reward: float | None = None
    train_reward_by_grader: dict[str, float] = Field(default_factory=dict)
    valid_reward: float | None = None
    valid_reward_by_grader: dict[str, float] = Field(default_factory=dict)
    zero_signal_share: float | None = Field(
        default=None, description="groups whose k samples all scored the same (no gradient)"
    )
    grader_error_share: float | None = Field(
        default=None, description="samples whose grading raised an error (each scored 0): a "
        "broken grader looks like a model that never scores"
    )
    completion_length: float | None = Field(default=None, description="mean tokens")
    kl: float | None = Field(default=None, description="logged when beta > 0")
    loss: float | None = None
    step_seconds: float | None = None
    eta_seconds: float | None = Field(default=None, description="from measured step times")
    checkpoint: str | None = None
    message: str | None = None
    at: datetime = Field(default_factory=_now)


class CheckpointInfo(Contract):
    name: str
    step: int
    path: str
    valid_reward: float | None = None
    best: bool = False


class Interval(Contract):
    low: float
    high: float


class TopicDelta(Contract):
    prompts: int
    before: float
    after: float
    change: float = Field(description="after - before, mean over the topic's prompts")
    interval: Interval = Field(description="paired bootstrap interval of the change")
    regression: bool = Field(description="the corrected interval lies wholly below zero")


class SampleComparison(Contract):
    prompt_id: str
    topic: str
    prompt: str = Field(description="the last user turn")
    before_output: str
    before_reward: float
    after_output: str
    after_reward: float
    change: float


class BehaviourShift(Contract):
    before: float
    after: float


class EvalComparison(Contract):
    """Step J: base model against the best checkpoint on the valid split, same grader and
    seeds, k samples per prompt; per prompt the mean over k."""

    job_id: str
    base_model: str
    tuned_model: str
    grader_name: str = ""
    prompts: int = 0
    samples_per_prompt: int = 1
    seed: int = 0
    confidence: float = 0.95
    correction: str = Field(
        default="", description="how the per-topic intervals are corrected for many topics"
    )
    before: ScoreStats
    after: ScoreStats
    change: float = 0.0
    interval: Interval = Field(default_factory=lambda: Interval(low=0.0, high=0.0))
    by_topic: dict[str, TopicDelta] = Field(default_factory=dict)
    regressions: list[str] = Field(default_factory=list)
    completion_tokens: BehaviourShift | None = None
    tool_call_rate: BehaviourShift | None = None
    gains: list[SampleComparison] = Field(default_factory=list)
    losses: list[SampleComparison] = Field(default_factory=list)
    deployable: bool = False
    gate_reasons: list[str] = Field(default_factory=list, description="why deploy is (not) open")
    created_at: datetime = Field(default_factory=_now)


class DeployTarget(StrEnum):
    EXPORT = "export"  # a Hugging Face directory with a model card
    VLLM = "vllm"  # a running vLLM: /v1/load_lora_adapter (LoRA) or the merged model
    LOCAL = "local"  # the platform's local LLM server


class DeployRequest(Contract):
    """``POST /v1/training-jobs/{id}/deploy``."""

    target: DeployTarget = DeployTarget.EXPORT
    model_name: str | None = Field(default=None, description="unset: derived from the job")
    base_url: str | None = Field(default=None, description="the vLLM or local server, …/v1")
    export_dir: str | None = None
    force: bool = Field(default=False, description="deploy although the gate is closed")
    reason: str | None = Field(default=None, description="required with force; recorded")

    @model_validator(mode="after")
    def _forced_needs_reason(self) -> DeployRequest:
        if self.force and not (self.reason or "").strip():
            raise ValueError("force needs a reason: it is recorded with the deploy")
        return self


class DeployResult(Contract):
    job_id: str
    target: DeployTarget
    model_name: str
    location: str = Field(description="the export dir, or the server's base URL")
    confirmed: bool = Field(description="one request naming the new model was answered")
    reply_excerpt: str | None = None
    forced: bool = False
    reason: str | None = None
    at: datetime = Field(default_factory=_now)
