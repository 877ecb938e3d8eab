"""SWE-agent trajectories (``<instance_id>.traj``): ``{"trajectory", "history", "info", ...}``.

``history`` is what the model was shown, as chat messages with SWE-agent's own fields beside
them: ``agent``, ``message_type``, ``thought`` and ``action`` (both repeat the content or the
call), ``is_demo``, ``tags``, ``cache_control``, ``thinking_blocks``. A tool reply names the call
it answers in a one-element ``tool_call_ids`` list. ``trajectory`` repeats the same steps as
(thought, action, observation) with each step's full query, so it is not read.

Everything after the first non-demonstration user turn (the task) is written by the
environment (command output, error feedback): with demonstrations, those are harness turns,
never the end of a prompt.
"""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters.base import (
    MESSAGE_FIELDS,
    Adapted,
    HarnessCounts,
    build_conversation,
    check_role,
    is_harness_role,
    require_list,
    require_object,
)
from rft_schemas.traces import TraceFormat

_INFO_FIELDS = ("exit_status", "submission", "swe_agent_version")
_HISTORY_FIELDS = frozenset({"agent", "message_type", "is_demo", "thought", "action"})


def looks_like(record: dict[str, Any]) -> bool:
    history = record.get("history")
    if not isinstance(history, list):
        return False
    if "trajectory" in record:
        return True
    first = history[0] if history else None
    return isinstance(first, dict) and "role" in first and bool(_HISTORY_FIELDS & set(first))


def adapt(record: dict[str, Any]) -> Adapted:
    raw_history = require_list(record["history"], "history", "history")
    harness = HarnessCounts()
    messages: list[dict[str, Any]] = []
    harness_turns: set[int] = set()
    task_seen = False
    for i, raw in enumerate(raw_history):
        path = f"history[{i}]"
        item = require_object(raw, "a history item", path)
        role = item.get("role")
        if is_harness_role(role):
            harness.add(f"role:{role}")
            continue
        role = check_role(role, f"{path}.role")
        demo = bool(item.get("is_demo"))
        if role == "user":
            if demo or task_seen:
                harness_turns.add(len(messages))
            task_seen = task_seen or not demo
        message = harness.message(item, (*MESSAGE_FIELDS, "tool_call_ids"))
        ids = message.pop("tool_call_ids", None)
        if role == "tool" and "tool_call_id" not in message and isinstance(ids, list) and ids:
            message["tool_call_id"] = ids[0]
        calls = message.get("tool_calls")
        if calls is None:
            message.pop("tool_calls", None)  # SWE-agent writes null on text-based steps
        elif isinstance(calls, list):
            message["tool_calls"] = [harness.call(c) if isinstance(c, dict) else c for c in calls]
        messages.append(message)
    item_fields: dict[str, Any] = {}
    info = record.get("info")
    if isinstance(info, dict):
        item_fields.update({k: info[k] for k in _INFO_FIELDS if k in info})
    if isinstance(record.get("environment"), str):
        item_fields["environment"] = record["environment"]
    return Adapted(
        TraceFormat.SWE_AGENT,
        build_conversation(messages, None),
        item_fields,
        harness=dict(harness),
        harness_turns=frozenset(harness_turns),
    )
