"""Berkeley Function Calling Leaderboard records: ``question`` (a list of turns, each a list of
messages) and ``function`` (bare function docs). The whole question list is the prompt."""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters.base import (
    Adapted,
    build_conversation,
    check_role,
    function_tool,
    require_list,
    require_object,
)
from rft_schemas.traces import TraceFormat

_OWN_FIELDS = frozenset({"question", "function"})


def looks_like(record: dict[str, Any]) -> bool:
    question = record.get("question")
    return isinstance(question, list) and (not question or isinstance(question[0], list))


def adapt(record: dict[str, Any]) -> Adapted:
    messages: list[dict[str, Any]] = []
    for t, turn in enumerate(require_list(record["question"], "question", "question")):
        for m, raw in enumerate(require_list(turn, "a question turn", f"question[{t}]")):
            path = f"question[{t}][{m}]"
            message = require_object(raw, "a message", path)
            role = check_role(message.get("role"), f"{path}.role")
            messages.append({"role": role, "content": message.get("content")})
    tools = None
    functions = record.get("function")
    if functions is not None:
        tools = [
            function_tool(f, f"function[{i}]")
            for i, f in enumerate(require_list(functions, "function", "function"))
        ]
    item_fields = {k: v for k, v in record.items() if k not in _OWN_FIELDS}
    return Adapted(
        TraceFormat.BFCL, build_conversation(messages, tools), item_fields, whole_prompt=True
    )
