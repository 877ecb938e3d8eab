"""A dataset row as a grader's ``item`` sees it: one shape for every writer and every reader.

The split's train/valid files (OpenAI's RFT dataset shape), the dry run and the reward function
all hand graders this row, so a preset that reads ``{{item.reference_tool_calls}}`` finds it
wherever the row came from: the prompt's item fields plus what the platform derives from the
trace (``messages``, ``tools`` and the reference continuation). A user's own field of the same
name wins over a derived one.
"""

from __future__ import annotations

from typing import Any

from rft_schemas.conversation import Message
from rft_schemas.traces import SanitizedPrompt


def message_json(message: Message) -> dict[str, Any]:
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


def grader_item(prompt: SanitizedPrompt) -> dict[str, Any]:
    item: dict[str, Any] = {
        "messages": [message_json(m) for m in prompt.messages],
        "tools": [t.model_dump(mode="json", exclude_none=True) for t in prompt.tools or []],
        "reference": reference_text(prompt.reference),
        "reference_tool_calls": reference_tool_calls(prompt.reference),
        "reference_messages": [message_json(m) for m in prompt.reference],
    }
    item.update(prompt.item_fields)
    return item
