"""``check_tool_chain`` on its own: a reply answers the call at its position, and its id is
used only where it names another open call (tool-call ids repeat in real traces)."""

from __future__ import annotations

from typing import Any

from rft_sanitizer.checks import check_tool_chain
from rft_schemas.conversation import Conversation
from rft_schemas.traces import RejectionReason
from tests.sanitizer.chats import TOOLS, assistant, tool, user


def _chain(*messages: dict[str, Any]) -> Conversation:
    return Conversation.model_validate({"messages": list(messages), "tools": TOOLS})


def test_reply_with_a_disagreeing_id_at_a_matching_position_is_accepted():
    chain = _chain(
        user("Check booking ABC123"), assistant(calls=[("a", "lookup", "{}")]),
        tool("x", "zzz"), user("Now cancel it please."))
    assert check_tool_chain(chain) is None


def test_reply_id_naming_another_open_call_still_reorders():
    chain = _chain(
        user("Check both"), assistant(calls=[("a", "lookup", "{}"), ("b", "lookup", "{}")]),
        tool("second", "b"), tool("unknown id", "zzz"), user("Now cancel the first please."))
    assert check_tool_chain(chain) is None


def test_reply_with_no_call_at_its_position_is_still_rejected():
    chain = _chain(
        user("Check booking ABC123"), assistant(calls=[("a", "lookup", "{}")]),
        tool("x", "a"), tool("y", "zzz"), user("Now cancel it please."))
    problem = check_tool_chain(chain)
    assert problem is not None and problem.reason is RejectionReason.BROKEN_TOOL_CHAIN
    assert problem.path == "messages[3]"
