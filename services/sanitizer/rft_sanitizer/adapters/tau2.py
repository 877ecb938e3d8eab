"""tau2-bench simulations: tool calls ``{id, name, arguments}`` with dict arguments, tool replies
carrying ``id``, and no system message (the agent's policy travels beside the messages)."""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters.base import (
    Adapted,
    HarnessCounts,
    build_conversation,
    check_role,
    is_harness_role,
    json_arguments,
    require_list,
    require_object,
)
from rft_schemas.traces import TraceFormat

# tau2 writes per-turn runtime data (timestamps, costs, raw provider responses, audio fields);
# a prompt keeps only what the model saw (the rest is counted as harness fields).
_OWN_FIELDS = frozenset({"messages", "policy"})
_MESSAGE_FIELDS = ("role", "content", "tool_calls", "id", "tool_call_id")


def looks_like(record: dict[str, Any], messages: list[Any]) -> bool:
    if "termination_reason" in record and "task_id" in record:
        return True
    for message in messages[:64]:
        if not isinstance(message, dict):
            return False
        if "turn_idx" in message:
            return True
        if message.get("role") == "tool" and "id" in message and "tool_call_id" not in message:
            return True
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and "function" not in call and "name" in call:
                return True
    return False


def adapt(record: dict[str, Any]) -> Adapted:
    raw_messages = require_list(record["messages"], "messages", "messages")
    messages: list[dict[str, Any]] = []
    policy = record.get("policy")
    if isinstance(policy, str) and policy.strip():
        messages.append({"role": "system", "content": policy})
    harness = HarnessCounts()
    for i, raw in enumerate(raw_messages):
        role = require_object(raw, "a message", f"messages[{i}]").get("role")
        if is_harness_role(role):
            harness.add(f"role:{role}")
            continue
        messages.append(_message(raw, f"messages[{i}]", harness))
    item_fields = {k: v for k, v in record.items() if k not in _OWN_FIELDS}
    return Adapted(
        TraceFormat.TAU2, build_conversation(messages, None), item_fields, harness=dict(harness)
    )


def _message(raw: Any, path: str, harness: HarnessCounts) -> dict[str, Any]:
    message = harness.message(require_object(raw, "a message", path), _MESSAGE_FIELDS)
    role = check_role(message.get("role"), f"{path}.role")
    out: dict[str, Any] = {"role": role, "content": message.get("content")}
    if role == "tool":
        out["tool_call_id"] = message.get("id", message.get("tool_call_id"))
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [
            _call(c, f"{path}.tool_calls[{j}]", harness)
            for j, c in enumerate(require_list(calls, "tool_calls", f"{path}.tool_calls"))
        ]
    return out


def _call(raw: Any, path: str, harness: HarnessCounts) -> dict[str, Any]:
    call = require_object(raw, "a tool call", path)
    if "function" in call:  # already OpenAI-shaped
        return harness.call(call)
    for key in call:
        if key not in ("id", "name", "arguments"):
            harness.add(f"tool_call.{key}")
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {
            "name": call.get("name"),
            "arguments": json_arguments(call.get("arguments", {}), f"{path}.arguments"),
        },
    }
