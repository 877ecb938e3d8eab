"""Step A contracts: raw traces in, sanitized prompts or rejections out."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from rft_schemas.base import Contract
from rft_schemas.conversation import Message, ToolSpec


class TraceFormat(StrEnum):
    OPENAI_CHAT = "openai_chat"
    SHAREGPT = "sharegpt"
    TAU2 = "tau2"
    OTEL_GENAI = "otel_genai"
    BFCL = "bfcl"
    MINI_SWE_AGENT = "mini_swe_agent"
    SWE_AGENT = "swe_agent"
    UNKNOWN = "unknown"


class RejectionReason(StrEnum):
    """Why a record was refused. Closed set: reports and dashboards count by these codes."""

    INVALID_JSON = "invalid_json"
    INVALID_UTF8 = "invalid_utf8"
    TOO_LARGE = "too_large"
    TOO_DEEPLY_NESTED = "too_deeply_nested"
    NOT_A_CONVERSATION = "not_a_conversation"
    UNKNOWN_ROLE = "unknown_role"
    MISSING_USER_MESSAGE = "missing_user_message"
    NOT_ENDING_ON_USER = "not_ending_on_user"
    BROKEN_TOOL_CHAIN = "broken_tool_chain"
    INVALID_TOOL_ARGUMENTS = "invalid_tool_arguments"
    UNKNOWN_TOOL = "unknown_tool"
    EMPTY_CONTENT = "empty_content"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"
    CONTAINS_SECRET = "contains_secret"
    INVALID_RECORD = "invalid_record"
    PROCESSING_ERROR = "processing_error"


class SourceLocation(Contract):
    """Where a record came from: a file line, or a Kafka topic offset, or an HTTP upload."""

    uri: str = Field(description="file path, kafka topic, or http upload name")
    line: int | None = Field(default=None, description="1-based line (JSONL) or item index")
    partition: int | None = None
    offset: int | None = None

    def describe(self) -> str:
        if self.line is not None:
            return f"{self.uri}:{self.line}"
        if self.offset is not None:
            return f"{self.uri}[{self.partition}]@{self.offset}"
        return self.uri


class RawTrace(Contract):
    """Untrusted bytes of one trace record, as a trace system exported it."""

    id: str = Field(description="stable id: the same source record always gets the same id")
    dataset: str
    source: SourceLocation
    payload: str = Field(description="the record's text; base64 when payload_encoding says so")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    received_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Lineage(Contract):
    """The path from a prompt back to the record it was cut from."""

    dataset: str
    trace_id: str
    source: SourceLocation
    format: TraceFormat
    cut_at_message: int | None = Field(
        default=None, description="index of the user turn the prompt ends on, in the source"
    )
    policy: str | None = None


class SanitizedPrompt(Contract):
    """An RFT prompt: messages ending on a user turn, the tools, and what followed it."""

    id: str = Field(description="stable id, from the normalized prompt content")
    dataset: str
    messages: list[Message]
    tools: list[ToolSpec] | None = None
    reference: list[Message] = Field(
        default_factory=list, description="the turns after the prompt in the source trace"
    )
    item_fields: dict[str, Any] = Field(
        default_factory=dict, description="the source record's extra top-level fields"
    )
    token_count: int | None = Field(
        default=None,
        description="exact tokens of the prompt's rendering where they were counted or are "
        "known from segments counted before; None where byte bounds settled min/max",
    )
    origin: Literal["trace", "synthetic"] = "trace"
    redactions: dict[str, int] = Field(default_factory=dict)
    lineage: Lineage


class Rejection(Contract):
    """A record a stage refused, with the reason and enough of it to find and read it."""

    id: str
    dataset: str
    stage: str = "sanitizer"
    reason: RejectionReason
    detail: str
    source: SourceLocation
    path: str | None = Field(default=None, description="where in the record, e.g. messages[3]")
    excerpt: str = Field(default="", description="the start of the offending record")
    duplicate_of: str | None = None
    trace_id: str | None = None


class TokenStats(Contract):
    """Token counts of the prompts that were counted exactly (``counted`` of them).

    A stage may settle a prompt's length bounds from its byte length without tokenizing it;
    those prompts are ``estimated`` and take no part in ``total``/``min``/``max``/percentiles.
    """

    counted: int = 0
    estimated: int = Field(default=0, description="prompts whose bounds were settled uncounted")
    tokenizer: str | None = None
    total: int = 0
    min: int | None = None
    max: int | None = None
    mean: float | None = None
    p50: int | None = None
    p95: int | None = None


class TokenBound(Contract):
    """The prompt-length bounds a sanitize run applied, and where the maximum came from."""

    min_tokens: int
    max_tokens: int
    source: Literal["setting", "context_window_setting", "model_config", "default"] = Field(
        description="setting: RFT_SANITIZER_MAX_TOKENS; context_window_setting: "
        "RFT_SANITIZER_CONTEXT_WINDOW (an endpoint's model) minus the completion budget; "
        "model_config: the trained model's own context window minus the completion budget; "
        "default: no context window known"
    )
    context_window: int | None = Field(default=None, description="the model's context, tokens")
    completion_budget: int | None = Field(
        default=None, description="tokens kept free for the completion"
    )
    detail: str = Field(default="", description="where the figures were read")


class SanitizeReport(Contract):
    """The seed's step-A screen as data."""

    dataset: str
    input: int = 0
    valid: int = 0
    prompts: int = Field(default=0, description="prompts written (a record can yield several)")
    rejected: dict[str, int] = Field(default_factory=dict)
    dropped_prompts: dict[str, int] = Field(
        default_factory=dict,
        description="prompts dropped, by reason, from records that still yielded others",
    )
    redactions: dict[str, int] = Field(default_factory=dict)
    formats: dict[str, int] = Field(default_factory=dict)
    tokens: TokenStats = Field(default_factory=TokenStats)
    token_bound: TokenBound | None = Field(default=None, description="the bounds applied")
    closing_test: str | None = Field(
        default=None,
        description="the test that found closing user turns: 'phrases' (a phrase list) or "
        "'embedding:<model export>' (exemplar similarity)",
    )
    harness_dropped: dict[str, int] = Field(
        default_factory=dict,
        description="what was left out of records as no part of the conversation, by name, "
        "per occurrence: harness-only roles (role:exit), fields (message.extra, "
        "tool_call.index) and user-simulator control markers (control_marker)",
    )
