"""Step H contracts: base-model rollouts, their scores, and the dry-run report."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.conversation import Message, ToolCall, ToolSpec
from rft_schemas.names import DatasetName


class RolloutRequest(Contract):
    id: str = Field(description="stable: job id, prompt id and sample index")
    job_id: str
    prompt_id: str
    topic_path: list[str] = Field(default_factory=list)
    messages: list[Message]
    tools: list[ToolSpec] | None = None
    item: dict[str, Any] = Field(default_factory=dict, description="item fields for graders")
    sample_index: int = 0
    model: str
    grader: dict[str, Any] = Field(
        default_factory=dict, description="the grader config (OpenAI JSON): workers stay stateless"
    )
    max_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = Field(default=None, description="per rollout: a re-run samples the same")
    tool_choice: Literal["auto", "required"] | None = Field(
        default=None, description="OpenAI's tool_choice for prompts that offer tools (unset: auto)"
    )


class Rollout(Contract):
    id: str
    request: RolloutRequest
    output_text: str = ""
    output_tools: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class Score(Contract):
    rollout_id: str
    job_id: str
    prompt_id: str
    topic_path: list[str] = Field(default_factory=list)
    sample_index: int = 0
    reward: float
    sub_rewards: dict[str, float] = Field(default_factory=dict)
    errors: dict[str, bool] = Field(default_factory=dict, description="error flag -> raised")
    output_text: str = ""
    output_tools: list[ToolCall] = Field(default_factory=list)
    rollout_error: str | None = Field(
        default=None, description="the base model gave no answer: left out of the statistics"
    )
    completion_tokens: int = 0
    grading_seconds: float = 0.0


class Verdict(StrEnum):
    GO = "GO"
    NO_GO = "NO-GO"


class ScoreStats(Contract):
    count: int
    mean: float
    std: float
    min: float
    max: float


class Finding(Contract):
    signal: str
    dataset_issue: str | None = None
    grader_issue: str | None = None
    recommendation: str | None = None


class DryRunReport(Contract):
    id: str
    dataset: str
    model: str
    grader_name: str
    prompts: int
    samples_per_prompt: int
    stats: ScoreStats
    histogram: list[int] = Field(description="counts in equal bins over [0, 1]")
    by_topic: dict[str, ScoreStats] = Field(default_factory=dict)
    flat_prompt_share: float = Field(description="prompts whose samples all scored the same")
    findings: list[Finding] = Field(default_factory=list)
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list, description="why the verdict")
    recommendations: list[str] = Field(default_factory=list)
    grader_errors: dict[str, int] = Field(
        default_factory=dict, description="error flag -> samples that raised it (reward 0)"
    )
    failed_rollouts: int = 0
    all_pass_prompt_ids: list[str] = Field(default_factory=list)
    all_fail_prompt_ids: list[str] = Field(default_factory=list)
    samples: list[Score] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class DryRunRequest(Contract):
    """``POST /v1/dry-runs``: the train split's lines, the grader, and the run's size."""

    dataset: DatasetName
    prompts: list[dict[str, Any]] = Field(
        description="lines of rft_prompts.train.jsonl (messages, tools, item fields) or "
                    "SanitizedPrompt records"
    )
    grader: dict[str, Any] = Field(description="grader_config.json, or one grader (OpenAI JSON)")
    prompt_count: int | None = Field(
        default=None, ge=1, description="N, sampled stratified by topic; unset = the grader's "
        "default for its model backend (200 on an endpoint, 8 on the local CPU model)",
    )
    samples_per_prompt: int = Field(default=2, ge=1, description="k")
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    tool_choice: Literal["auto", "required"] | None = Field(
        default=None, description="as training will use it: 'required' when the agent always "
        "calls a tool (unset: the service's setting)",
    )
    seed: int = 0
    model: str | None = Field(default=None, description="unset: the endpoint's default model")


class DryRunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


class DryRunJob(Contract):
    id: str
    dataset: str
    status: DryRunStatus
    total: int = Field(description="rollouts in the run (N x k)")
    done: int = Field(description="rollouts scored so far")
    report: DryRunReport | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
