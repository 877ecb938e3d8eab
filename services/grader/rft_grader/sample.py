"""The two namespaces a grader sees: ``sample`` (what the model answered) and ``item`` (the row).

``item`` is the dataset row as OpenAI's RFT sees it; its shape is
:func:`rft_schemas.grader_item.grader_item`, which the split's files are written with too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from rft_schemas import Rollout, SanitizedPrompt, ToolCall
from rft_schemas.grader_item import grader_item


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


item_from_prompt = grader_item  # the grader package's name for the shared row builder


def item_field_names(prompt: SanitizedPrompt) -> set[str]:
    return set(item_from_prompt(prompt))
