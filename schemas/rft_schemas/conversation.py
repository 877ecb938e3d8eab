"""The conversation model: OpenAI chat format, the one shape every trace format is adapted into.

Real exports carry fields this model does not name (``weight``, ``refusal``, vendor keys); they are
kept as extras so a record written back out is the record that came in.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rft_schemas.base import JsonObject, Passthrough

Role = Literal["system", "developer", "user", "assistant", "tool"]


class FunctionCall(Passthrough):
    name: str
    arguments: str = Field(description="JSON-encoded arguments, as the OpenAI API sends them")


class ToolCall(Passthrough):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(Passthrough):
    """One part of a multi-part content list (``{"type": "text", "text": ...}`` and others)."""

    type: str
    text: str | None = None


class Message(Passthrough):
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text, with multi-part content joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content)


class FunctionSpec(Passthrough):
    name: str
    description: str | None = None
    parameters: JsonObject | None = None
    strict: bool | None = None


class ToolSpec(Passthrough):
    type: Literal["function"] = "function"
    function: FunctionSpec


class Conversation(Passthrough):
    """A chat record as the OpenAI fine-tuning and RFT datasets hold it.

    Top-level fields other than ``messages`` and ``tools`` are the record's item fields.
    """

    messages: list[Message]
    tools: list[ToolSpec] | None = None

    def item_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})
