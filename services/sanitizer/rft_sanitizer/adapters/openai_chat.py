"""OpenAI chat records: ``messages`` + ``tools``, including the legacy ``function_call`` turn
and ``function`` role that older fine-tuning files and SDKs still write."""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters.base import (
    Adapted,
    build_conversation,
    check_role,
    function_tool,
    json_arguments,
    require_list,
    require_object,
)
from rft_schemas.traces import TraceFormat

_OWN_FIELDS = frozenset({"messages", "tools", "functions"})
_MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


def adapt(record: dict[str, Any]) -> Adapted:
    raw_messages = require_list(record["messages"], "messages", "messages")
    messages = [_message(m, f"messages[{i}]") for i, m in enumerate(raw_messages)]
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
    return Adapted(TraceFormat.OPENAI_CHAT, build_conversation(messages, tools), item_fields)


def _message(raw: Any, path: str) -> dict[str, Any]:
    message = require_object(raw, "a message", path)
    role = message.get("role")
    if role == "function":  # legacy: the reply to a function_call, named, without an id
        out = {"role": "tool", "content": message.get("content"), "name": message.get("name")}
        return out
    check_role(role, f"{path}.role")
    out = {k: message[k] for k in _MESSAGE_FIELDS if k in message}
    legacy_call = message.get("function_call")
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
