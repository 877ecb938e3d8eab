"""mini-swe-agent trajectories (``*.traj.json``): ``{"info", "messages", "trajectory_format"}``.

The messages are OpenAI chat messages as the model's API returned them, each with an ``extra``
field the harness adds (parsed actions, cost, the raw response, timestamps); tool calls carry
the provider's ``index``. The run ends on a role ``exit`` message holding the exit status and
the submitted patch, and the submitting command's tool call is never answered (the harness
stops on its output). Command output comes back as ``tool`` turns (tool-call models, v2's
default) or as ``user`` turns (text-based models, and every v1 trajectory, which also ends on
the submission as a user turn): those user turns, and the format-error feedback the harness
sends as a user turn, are harness turns, never the end of a prompt.
"""

from __future__ import annotations

from typing import Any

from rft_sanitizer.adapters import openai_chat
from rft_sanitizer.adapters.base import (
    Adapted,
    HarnessCounts,
    build_conversation,
    is_harness_role,
    require_list,
    require_object,
)
from rft_schemas.traces import TraceFormat

# What a grader of the run may want beside the prompt; `info.config` repeats the agent's
# templates (the system prompt) and the model settings, `info.model_stats` the run's costs.
_INFO_FIELDS = ("exit_status", "submission", "mini_version", "instance_id")


def looks_like(record: dict[str, Any]) -> bool:
    fmt = record.get("trajectory_format")
    if isinstance(fmt, str) and fmt.startswith("mini-swe-agent"):
        return True
    info = record.get("info")
    if not isinstance(info, dict):
        return False
    # Before "trajectory_format" (August 2025) runs wrote info = {exit_status, submission,
    # model_stats} beside the messages, and no version.
    return "mini_version" in info or (
        "model_stats" in info and ("exit_status" in info or "submission" in info)
    )


def adapt(record: dict[str, Any]) -> Adapted:
    raw_messages = require_list(record["messages"], "messages", "messages")
    harness = HarnessCounts()
    harness_turns = _harness_turns(_kept(raw_messages))
    messages = openai_chat.read_messages(raw_messages, harness)
    item_fields: dict[str, Any] = {
        k: v for k, v in record.items() if k not in ("messages", "trajectory_format", "info")
    }
    info = record.get("info")
    if isinstance(info, dict):
        item_fields.update({k: info[k] for k in _INFO_FIELDS if k in info})
    return Adapted(
        TraceFormat.MINI_SWE_AGENT,
        build_conversation(messages, None),
        item_fields,
        harness=dict(harness),
        harness_turns=harness_turns,
    )


def _kept(raw_messages: list[Any]) -> list[dict[str, Any]]:
    """The messages that stay in the conversation, in its order (harness roles left out)."""
    kept = []
    for i, raw in enumerate(raw_messages):
        message = require_object(raw, "a message", f"messages[{i}]")
        if not is_harness_role(message.get("role")):
            kept.append(message)
    return kept


def _harness_turns(messages: list[dict[str, Any]]) -> frozenset[int]:
    # The agent runs alone once it has the task: every user turn after its first reply is the
    # harness's (command output, format errors; v1 also ends on the submission as a user turn).
    first_reply = next((i for i, m in enumerate(messages) if m.get("role") == "assistant"), None)
    if first_reply is None:
        return frozenset()
    return frozenset(
        i for i, m in enumerate(messages) if i > first_reply and m.get("role") == "user"
    )
