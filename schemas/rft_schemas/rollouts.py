"""Step H contracts: base-model rollouts, their scores, and the dry-run report."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.conversation import Message, ToolCall, ToolSpec


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
    samples: list[Score] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
