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
