"""Steps B, C, D contracts: embeddings, the topic hierarchy, categorization and coverage."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.traces import SanitizedPrompt


class EmbeddedPrompt(Contract):
    """A prompt whose vector is stored in Qdrant under ``point_id``."""

    prompt: SanitizedPrompt
    model: str
    point_id: str
    dimensions: int
    embedded_text: str = Field(description="the text that was embedded (it names the task)")
    near_duplicate_of: str | None = None


class Topic(Contract):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$", description="snake_case, unique per parent")
    description: str = ""
    examples: list[str] = Field(default_factory=list)
    children: list[Topic] = Field(default_factory=list)


class HierarchySource(StrEnum):
    AUTO = "auto"
    TEMPLATE = "template"
    MANUAL = "manual"


class TopicHierarchy(Contract):
    """A versioned topic tree; every edit makes a new version."""

    dataset: str
    version: int = 1
    source: HierarchySource = HierarchySource.MANUAL
    template: str | None = None
    topics: list[Topic]
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class CategorizationMethod(StrEnum):
    EMBEDDING = "embedding"
    LLM = "llm"
    MANUAL = "manual"


class CategorizedPrompt(Contract):
    prompt: SanitizedPrompt
    topic_path: list[str] = Field(description="from the root, e.g. ['billing', 'refunds']")
    confidence: float = Field(ge=0.0, le=1.0)
    method: CategorizationMethod
    runner_up: list[str] | None = None
    runner_up_confidence: float | None = None
    multi_topic: bool = False
    uncategorized: bool = False
    needs_review: bool = False
    hierarchy_version: int


class TopicCoverage(Contract):
    path: list[str]
    level: int
    count: int
    share: float
    target: int
    gap: int = Field(description="target - count, never below 0")
    recommended_generate: int
    below_target: bool


class SpreadStats(Contract):
    min: int
    max: int
    mean: float
    std: float


class CoverageReport(Contract):
    dataset: str
    hierarchy_version: int
    total: int
    target_policy: Literal["uniform", "user"] = "uniform"
    topics: list[TopicCoverage]
    spread_by_level: dict[int, SpreadStats] = Field(default_factory=dict)
    by_difficulty: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="difficulty bucket -> topic -> count"
    )
    difficulty_signal: Literal["token_length", "prompt_length", "reward", "none"] = Field(
        default="none", description="what the difficulty buckets were cut from"
    )
    difficulty_buckets: dict[str, str] = Field(
        default_factory=dict, description="difficulty bucket -> the range it holds, e.g. '<= 42'"
    )


CLASSIFY_MAX_ROWS = 2048
"""The most vectors one ``topics:classify`` request may carry (a client sends more in chunks)."""


class TopicClassifyRequest(Contract):
    """Vectors to categorize as step C categorizes the dataset's prompts
    (``POST /v1/datasets/{dataset}/topics:classify``): step E's synthetic candidates, checked in
    the cluster. Each row has the dimensions of the categorizer's embedder."""

    vectors: list[list[float]] = Field(
        max_length=CLASSIFY_MAX_ROWS, description="one prompt vector per row (normalized)"
    )


class TopicDecision(Contract):
    """Step C's decision for one vector: what it would record for a prompt with that vector."""

    topic_path: list[str] = Field(description="the leaf from the root, or ['other']")
    topic: str = Field(description="the leaf's key, 'a/b'")
    confidence: float = Field(ge=0.0, le=1.0, description="0 when far from every topic")
    needs_review: bool = Field(description="it would go to the review queue")
    uncategorized: bool = False


class TopicClassifyResponse(Contract):
    dataset: str
    hierarchy_version: int = Field(description="the hierarchy the decisions were made against")
    decisions: list[TopicDecision] = Field(description="one per row of the request, in order")
