"""OpenAI-format conversations for the core's tests, built a turn at a time."""

from __future__ import annotations

from typing import Any

from rft_sanitizer.core import Accepted
from rft_schemas.traces import Rejection, RejectionReason

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
SYSTEM = {"role": "system", "content": "You are a careful airline support agent with tools."}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(
    text: str | None = None, calls: list[tuple[str | None, str, str]] | None = None
) -> dict[str, Any]:
    """``calls``: (id, name, arguments) per tool call."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls is not None:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            for call_id, name, args in calls
        ]
    return message


def tool(content: str, call_id: str | None = None) -> dict[str, Any]:
    return {"role": "tool", "content": content, "tool_call_id": call_id}


def conversation(
    *messages: dict[str, Any], tools: list[Any] | None = TOOLS, **fields: Any
) -> dict[str, Any]:
    return {"messages": list(messages), "tools": tools, **fields}


def accepted(result: Accepted | Rejection) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def rejected(result: Accepted | Rejection) -> RejectionReason:
    assert isinstance(result, Rejection), result
    return result.reason
