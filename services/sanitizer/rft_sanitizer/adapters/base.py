"""What every format adapter returns, and the one way adapters build the conversation model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from rft_schemas.conversation import Conversation
from rft_schemas.traces import RejectionReason, TraceFormat

# The roles the conversation model knows; anything else in a source is unknown_role.
KNOWN_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
# Roles an agent harness writes for itself, never shown to the model: mini-swe-agent ends every
# trajectory on a role "exit" message holding the run's status and the submitted patch.
HARNESS_ROLES = frozenset({"exit"})
# The fields of an OpenAI chat message and tool call; harnesses add their own beside them
# (mini-swe-agent's `extra` with costs and raw responses, litellm's `index` on tool calls,
# SWE-agent's `thought`, `action`, `agent`, `message_type`), which no model saw.
MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")
_CALL_FIELDS = frozenset({"id", "type", "function"})
_FUNCTION_FIELDS = frozenset({"name", "arguments"})


class AdaptError(Exception):
    """A record an adapter cannot turn into a conversation. The core makes it a Rejection."""

    def __init__(self, reason: RejectionReason, detail: str, path: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.path = path


@dataclass(frozen=True)
class Adapted:
    """A source record in the conversation model, with its item fields beside it."""

    format: TraceFormat
    conversation: Conversation
    item_fields: dict[str, Any] = field(default_factory=dict)
    # Formats whose records are prompts already (BFCL's question lists) are taken whole.
    whole_prompt: bool = False
    # More conversations of the same record: an OTLP export request carries several traces;
    # ``failed`` are those of them that could not be read (each counted, none fatal).
    others: list[Adapted] = field(default_factory=list)
    failed: list[AdaptError] = field(default_factory=list)
    # Harness-only roles and fields left out of the conversation, by name ("role:exit",
    # "message.extra", "tool_call.index"): counted per occurrence for the report.
    harness: dict[str, int] = field(default_factory=dict)
    # User turns the harness wrote (command output, format-error feedback, demonstrations):
    # the model reads them, but a prompt never ends on them (indices into the messages).
    harness_turns: frozenset[int] = frozenset()


class HarnessCounts(dict[str, int]):
    """What an adapter left out of a record, by name."""

    def add(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n

    def message(
        self, message: dict[str, Any], keep: tuple[str, ...] = MESSAGE_FIELDS
    ) -> dict[str, Any]:
        """The message's chat fields; every other field is counted as ``message.<name>``."""
        for key in message:
            if key not in keep:
                self.add(f"message.{key}")
        return {k: message[k] for k in keep if k in message}

    def call(self, call: dict[str, Any]) -> dict[str, Any]:
        """An OpenAI-shaped tool call without the fields providers add (litellm's ``index``)."""
        out = call
        if not _CALL_FIELDS.issuperset(call):
            for key in call:
                if key not in _CALL_FIELDS:
                    self.add(f"tool_call.{key}")
            out = {k: v for k, v in call.items() if k in _CALL_FIELDS}
        function = out.get("function")
        if isinstance(function, dict) and not _FUNCTION_FIELDS.issuperset(function):
            for key in function:
                if key not in _FUNCTION_FIELDS:
                    self.add(f"tool_call.function.{key}")
            out = {**out, "function": {k: v for k, v in function.items() if k in _FUNCTION_FIELDS}}
        return out


def json_arguments(arguments: Any, path: str) -> str:
    """Call arguments as the JSON string the OpenAI format carries (tau2 and ShareGPT use dicts)."""
    if isinstance(arguments, str):
        return arguments
    try:
        return orjson.dumps(arguments).decode()
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise AdaptError(
            RejectionReason.INVALID_TOOL_ARGUMENTS, f"arguments are not JSON: {exc}", path
        ) from exc


def require_list(value: Any, what: str, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise AdaptError(
            RejectionReason.INVALID_RECORD, f"{what} is {type(value).__name__}, not a list", path
        )
    return value


def require_object(value: Any, what: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdaptError(
            RejectionReason.INVALID_RECORD, f"{what} is {type(value).__name__}, not an object", path
        )
    return value


def is_harness_role(role: Any) -> bool:
    return isinstance(role, str) and role in HARNESS_ROLES


def check_role(role: Any, path: str) -> str:
    if not isinstance(role, str):
        raise AdaptError(
            RejectionReason.UNKNOWN_ROLE, f"role is {type(role).__name__}, not a string", path
        )
    if role not in KNOWN_ROLES:
        raise AdaptError(RejectionReason.UNKNOWN_ROLE, f"unknown role {role[:40]!r}", path)
    return role


def function_tool(spec: Any, path: str) -> dict[str, Any]:
    """A bare function spec (``{name, description, parameters}``) as an OpenAI tool."""
    obj = require_object(spec, "a tool", path)
    if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
        return obj
    return {"type": "function", "function": obj}


def build_conversation(messages: list[dict[str, Any]], tools: list[Any] | None) -> Conversation:
    """Validate adapted messages into the model; a type error becomes invalid_record with a path."""
    try:
        return Conversation.model_validate({"messages": messages, "tools": tools or None})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = _path(first["loc"])
        reason = (
            RejectionReason.UNKNOWN_ROLE
            if first["loc"][-1:] == ("role",)
            else RejectionReason.INVALID_RECORD
        )
        raise AdaptError(reason, f"{where}: {first['msg']}", where) from exc
    except RecursionError as exc:  # pragma: no cover - the reader caps nesting first
        raise AdaptError(RejectionReason.TOO_DEEPLY_NESTED, "record nests too deeply") from exc


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
