"""Structural checks of a conversation: roles present, tool chains whole, content not empty.

Each returns ``None`` or the first :class:`Problem` it finds, so a record gets one reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from rft_sanitizer.closing import is_closing_turn
from rft_schemas.conversation import Conversation, Message
from rft_schemas.traces import RejectionReason


@dataclass(frozen=True)
class Problem:
    reason: RejectionReason
    detail: str
    path: str | None = None


def check_has_user(conversation: Conversation) -> Problem | None:
    if not any(m.role == "user" for m in conversation.messages):
        roles = ", ".join(m.role for m in conversation.messages[:12]) or "no messages"
        return Problem(RejectionReason.MISSING_USER_MESSAGE, f"no user turn (roles: {roles})")
    return None


def check_tool_chain(
    conversation: Conversation,
    *,
    closing_turns_end_the_trace: bool = True,
    only_closing_from: Callable[[int], bool] | None = None,
) -> Problem | None:
    """Every tool reply answers a call of the assistant turn before it; calls are well formed.

    Tool-call ids repeat in real traces (tau2 reuses them within a conversation, the OpenAI
    cookbook's drone data uses the literal "call_id" everywhere), so a reply is matched to a call
    by its position in the turn's call list, and position decides: an id is only used where it
    names another open call of the same turn (replies written out of order); a reply whose id
    names no open call answers the call at its position. A reply with no call left at its
    position is broken. Calls still unanswered when the trace ends, or when only closing user
    turns follow them (``###STOP###``, thanks, goodbye), are the reference's business, not an
    error: the prompt is cut before them. A trace taken whole as the prompt has no reference:
    ``closing_turns_end_the_trace=False`` then counts calls left open before closing turns.
    ``only_closing_from(i)`` says whether only such turns are left from message i (by default,
    user turns the phrase list finds closing; the core passes its cut points).
    """
    messages = conversation.messages
    if only_closing_from is None:
        def only_closing_from(start: int) -> bool:
            return _only_closing(messages[start:])

    tool_names = (
        {t.function.name for t in conversation.tools} if conversation.tools else None
    )
    calls_turn: int | None = None  # index of the assistant turn whose calls are being answered
    answered: list[bool] = []
    for i, message in enumerate(messages):
        if message.role == "tool":
            if calls_turn is None:
                return Problem(
                    RejectionReason.BROKEN_TOOL_CHAIN,
                    "tool reply without a tool call in the assistant turn before it",
                    f"messages[{i}]",
                )
            problem = _match_reply(messages[calls_turn], answered, message, i, calls_turn)
            if problem:
                return problem
            continue
        if (calls_turn is not None and not all(answered)
                and not (closing_turns_end_the_trace and only_closing_from(i))):
            missing = answered.count(False)
            return Problem(
                RejectionReason.BROKEN_TOOL_CHAIN,
                f"{missing} tool call(s) of messages[{calls_turn}] unanswered before the next turn",
                f"messages[{calls_turn}]",
            )
        calls_turn, answered = None, []
        if message.role == "assistant" and message.tool_calls is not None:
            problem = _check_calls(message, i, tool_names)
            if problem:
                return problem
            calls_turn, answered = i, [False] * len(message.tool_calls)
    return None


def _match_reply(
    turn: Message, answered: list[bool], reply: Message, i: int, turn_index: int
) -> Problem | None:
    calls = turn.tool_calls or []
    position = answered.count(True)
    if position >= len(calls):
        return Problem(
            RejectionReason.BROKEN_TOOL_CHAIN,
            f"tool reply #{position + 1} answers no call: messages[{turn_index}] made "
            f"{len(calls)} call(s)",
            f"messages[{i}]",
        )
    slot = answered.index(False)
    reply_id = reply.tool_call_id
    if reply_id and calls[slot].id and calls[slot].id != reply_id:
        # Ids are used only where they agree with a call: one naming another open call of the
        # turn reorders; one naming none (ids are not unique, or rewritten by exports) is
        # ignored and the position decides.
        by_id = [k for k, c in enumerate(calls) if c.id == reply_id and not answered[k]]
        if by_id:
            slot = by_id[0]
    answered[slot] = True
    return None


def _only_closing(messages: list[Message]) -> bool:
    """Whether only closing user turns are left: calls before them end the trace."""
    return all(m.role == "user" and is_closing_turn(m.text()) for m in messages)


def _check_calls(message: Message, i: int, tool_names: set[str] | None) -> Problem | None:
    for j, call in enumerate(message.tool_calls or ()):
        path = f"messages[{i}].tool_calls[{j}]"
        name = call.function.name
        if not name:
            return Problem(RejectionReason.BROKEN_TOOL_CHAIN, "tool call without a name", path)
        try:
            arguments = orjson.loads(call.function.arguments)
        except orjson.JSONDecodeError as exc:
            return Problem(
                RejectionReason.INVALID_TOOL_ARGUMENTS,
                f"arguments of {name[:60]!r} are not JSON: {exc}",
                f"{path}.function.arguments",
            )
        if not isinstance(arguments, dict):
            return Problem(
                RejectionReason.INVALID_TOOL_ARGUMENTS,
                f"arguments of {name[:60]!r} are a JSON {type(arguments).__name__}, not an object",
                f"{path}.function.arguments",
            )
        if tool_names is not None and name not in tool_names:
            return Problem(
                RejectionReason.UNKNOWN_TOOL,
                f"call to {name[:60]!r}, which is not among the record's {len(tool_names)} tools",
                f"{path}.function.name",
            )
    return None


def _has_visible_text(text: str) -> bool:
    stripped = text.strip()
    if len(stripped) > 32:
        return True
    # Exports carry turns of control characters only (BFCL has a lone "\x16"): no text.
    return any(ch.isprintable() and not ch.isspace() for ch in stripped)


def check_content(conversation: Conversation) -> Problem | None:
    """System and user turns need text, an assistant turn text or calls, a tool reply content."""
    for i, message in enumerate(conversation.messages):
        if message.role == "tool":
            empty = message.content is None
        elif message.role == "assistant":
            empty = not message.tool_calls and not message.text().strip()
        else:
            empty = not _has_visible_text(message.text())
        if empty:
            return Problem(
                RejectionReason.EMPTY_CONTENT,
                f"{message.role} turn without content",
                f"messages[{i}]",
            )
    return None
