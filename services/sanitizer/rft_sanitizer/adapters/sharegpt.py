"""ShareGPT dialogues: ``conversations`` of ``{from, value}`` turns, with ``function_call`` turns
(a JSON call or list of calls) and ``observation`` turns (the tools' results), a ``system``
field and ``tools`` as a JSON string, as LLaMA-Factory and the ToolACE conversions write them."""

from __future__ import annotations

from typing import Any

import orjson

from rft_sanitizer.adapters.base import (
    Adapted,
    AdaptError,
    build_conversation,
    function_tool,
    json_arguments,
    require_list,
    require_object,
)
from rft_schemas.traces import RejectionReason, TraceFormat

_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "model": "assistant",
    "system": "system",
}
_CALL = "function_call"
_RESULTS = frozenset({"observation", "function_response", "tool", "function"})
_OWN_FIELDS = frozenset({"conversations", "system", "tools"})


def turns_key(record: dict[str, Any]) -> str | None:
    """The key holding the ShareGPT turns, when the record has one."""
    for key in ("conversations", "conversation", "messages"):
        turns = record.get(key)
        if isinstance(turns, list) and turns and isinstance(turns[0], dict) and "from" in turns[0]:
            return key
    return None


def adapt(record: dict[str, Any]) -> Adapted:
    key = turns_key(record) or "conversations"
    turns = require_list(record.get(key), key, key)
    messages: list[dict[str, Any]] = []
    system = record.get("system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    pending_calls = 0  # calls of the latest function_call turn, to split a list of results
    for i, raw in enumerate(turns):
        path = f"{key}[{i}]"
        turn = require_object(raw, "a turn", path)
        source_role = turn.get("from")
        value = turn.get("value")
        if source_role == _CALL:
            calls = _calls(value, f"{path}.value")
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            pending_calls = len(calls)
        elif source_role in _RESULTS:
            messages.extend(_results(value, pending_calls))
            pending_calls = 0
        elif isinstance(source_role, str) and source_role in _ROLES:
            messages.append({"role": _ROLES[source_role], "content": value})
            pending_calls = 0
        else:
            raise AdaptError(
                RejectionReason.UNKNOWN_ROLE,
                f"unknown ShareGPT turn {str(source_role)[:40]!r}",
                f"{path}.from",
            )
    tools = _tools(record.get("tools"))
    item_fields = {k: v for k, v in record.items() if k not in _OWN_FIELDS and k != key}
    return Adapted(TraceFormat.SHAREGPT, build_conversation(messages, tools), item_fields)


def _calls(value: Any, path: str) -> list[dict[str, Any]]:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise AdaptError(
                RejectionReason.INVALID_TOOL_ARGUMENTS, f"function_call is not JSON: {exc}", path
            ) from exc
    calls = parsed if isinstance(parsed, list) else [parsed]
    out = []
    for j, raw in enumerate(calls):
        call = require_object(raw, "a function call", f"{path}[{j}]")
        out.append(
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call.get("name"),
                    "arguments": json_arguments(call.get("arguments", {}), f"{path}[{j}]"),
                },
            }
        )
    return out


def _results(value: Any, pending_calls: int) -> list[dict[str, Any]]:
    # One observation turn answers the whole function_call turn before it; for several calls,
    # ToolACE writes a JSON list with one result per call, in call order.
    if pending_calls > 1 and isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list) and len(parsed) == pending_calls:
            return [{"role": "tool", "content": orjson.dumps(r).decode()} for r in parsed]
    # An observation that does not split per call (one text or object, a list of another
    # length) answers every call: one tool reply per call, each carrying it whole. A single
    # reply would leave the other calls unanswered before the next turn, which check_tool_chain
    # rejects; we cannot tell which part answers which call, so none is cut. Without a pending
    # call, one reply (answering nothing: broken_tool_chain).
    return [{"role": "tool", "content": value} for _ in range(max(pending_calls, 1))]


def _tools(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = orjson.loads(value) if value.strip() else None
        except orjson.JSONDecodeError as exc:
            raise AdaptError(
                RejectionReason.INVALID_RECORD, f"tools is not JSON: {exc}", "tools"
            ) from exc
    # ShareGPT exports write "[]" and describe the functions in the system prompt: an empty
    # list gives no tools to check call names against.
    if not value:
        return None
    specs = require_list(value, "tools", "tools")
    return [function_tool(t, f"tools[{i}]") for i, t in enumerate(specs)]
