"""OpenAI chat records: ``messages`` + ``tools``, including the legacy ``function_call`` turn
and ``function`` role that older fine-tuning files and SDKs still write."""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters.base import (
    MESSAGE_FIELDS,
    Adapted,
    HarnessCounts,
    build_conversation,
    check_role,
    function_tool,
    is_harness_role,
    json_arguments,
    require_list,
    require_object,
)
from rft_schemas.traces import TraceFormat

_OWN_FIELDS = frozenset({"messages", "tools", "functions"})
# Read as the legacy call when set; SDK dumps write it as null beside tool_calls.
_MESSAGE_FIELDS = (*MESSAGE_FIELDS, "function_call")


def adapt(record: dict[str, Any]) -> Adapted:
    raw_messages = require_list(record["messages"], "messages", "messages")
    harness = HarnessCounts()
    messages = read_messages(raw_messages, harness)
    tools_value = record.get("tools")
    if tools_value is None and record.get("functions") is not None:
        tools_value = record["functions"]
    tools = None
    if tools_value is not None:
        tools = [
            function_tool(t, f"tools[{i}]")
            for i, t in enumerate(require_list(tools_value, "tools", "tools"))
        ]
    item_fields = {k: v for k, v in record.items() if k not in _OWN_FIELDS}
    return Adapted(
        TraceFormat.OPENAI_CHAT,
        build_conversation(messages, tools),
        item_fields,
        harness=dict(harness),
    )


def read_messages(raw_messages: list[Any], harness: HarnessCounts) -> list[dict[str, Any]]:
    """OpenAI chat messages without harness-only roles and fields (counted in ``harness``)."""
    messages = []
    for i, raw in enumerate(raw_messages):
        path = f"messages[{i}]"
        role = require_object(raw, "a message", path).get("role")
        if is_harness_role(role):
            harness.add(f"role:{role}")
            continue
        messages.append(_message(raw, path, harness))
    return messages


def _message(raw: Any, path: str, harness: HarnessCounts) -> dict[str, Any]:
    message = require_object(raw, "a message", path)
    role = message.get("role")
    if role == "function":  # legacy: the reply to a function_call, named, without an id
        out = {"role": "tool", "content": message.get("content"), "name": message.get("name")}
        return out
    check_role(role, f"{path}.role")
    out = harness.message(message, _MESSAGE_FIELDS)
    legacy_call = out.pop("function_call", None)
    calls = out.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [harness.call(c) if isinstance(c, dict) else c for c in calls]
    if legacy_call is not None and not message.get("tool_calls"):
        call = require_object(legacy_call, "function_call", f"{path}.function_call")
        out["tool_calls"] = [
            {
                "id": None,
                "type": "function",
                "function": {
                    "name": call.get("name"),
                    "arguments": json_arguments(
                        call.get("arguments", "{}"), f"{path}.function_call.arguments"
                    ),
                },
            }
        ]
    return out
