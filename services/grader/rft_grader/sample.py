"""The two namespaces a grader sees: ``sample`` (what the model answered) and ``item`` (the row).

``item`` is the dataset row as OpenAI's RFT sees it: the prompt's item fields plus what this
platform derives from the trace (``messages``, ``tools`` and the reference continuation).
A user's own field of the same name wins over a derived one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rft_schemas import Message, Rollout, SanitizedPrompt, ToolCall


class _NotJson:
    """``sample.output_json`` of an answer that is not valid JSON (``None`` is valid: ``null``)."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Any = _NotJson()


@dataclass
class Sample:
    """One model answer: its text and the tool calls it made, as OpenAI's ``sample`` namespace."""

    output_text: str = ""
    output_tools: list[ToolCall] = field(default_factory=list)

    @classmethod
    def from_output(cls, output: str | bytes, tools: list[ToolCall] | None = None) -> Sample:
        # Model servers and uploads hand us bytes that need not be UTF-8; a grader must still run.
        text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output
        return cls(output_text=text, output_tools=list(tools or []))

    @classmethod
    def from_rollout(cls, rollout: Rollout) -> Sample:
        return cls(output_text=rollout.output_text, output_tools=list(rollout.output_tools))

    @cached_property
    def output_json(self) -> Any:
        """The text parsed as JSON, or :data:`NOT_JSON`; parsed once, on first use."""
        try:
            return json.loads(self.output_text)
        except (ValueError, RecursionError):
            return NOT_JSON

    @cached_property
    def output_tools_json(self) -> list[dict[str, Any]]:
        return [call.model_dump(mode="json", exclude_none=True) for call in self.output_tools]

    def as_namespace(self) -> dict[str, Any]:
        """The plain-JSON view handed to python graders (``output_json`` is None when not JSON)."""
        parsed = self.output_json
        return {
            "output_text": self.output_text,
            "output_json": None if parsed is NOT_JSON else parsed,
            "output_tools": self.output_tools_json,
        }


def _message_json(message: Message) -> dict[str, Any]:
    return message.model_dump(mode="json", exclude_none=True)


def reference_tool_calls(reference: list[Message]) -> list[dict[str, Any]]:
    """The tool calls of the first assistant turn of the continuation: what the agent did next."""
    for message in reference:
        if message.role == "assistant":
            return [call.model_dump(mode="json", exclude_none=True)
                    for call in message.tool_calls or []]
    return []


def reference_text(reference: list[Message]) -> str:
    """The text of the continuation's assistant turns (tool turns are the environment speaking)."""
    return "\n".join(m.text() for m in reference if m.role == "assistant" and m.text())


def item_from_prompt(prompt: SanitizedPrompt) -> dict[str, Any]:
    item: dict[str, Any] = {
        "messages": [_message_json(m) for m in prompt.messages],
        "tools": [t.model_dump(mode="json", exclude_none=True) for t in prompt.tools or []],
        "reference": reference_text(prompt.reference),
        "reference_tool_calls": reference_tool_calls(prompt.reference),
        "reference_messages": [_message_json(m) for m in prompt.reference],
    }
    item.update(prompt.item_fields)
    return item


def item_field_names(prompt: SanitizedPrompt) -> set[str]:
    return set(item_from_prompt(prompt))
