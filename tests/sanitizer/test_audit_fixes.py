"""Regressions for the sanitizer audit: JSON-aware redaction of tool-call arguments, closing
turns that carry a request, unanswered calls before a closing turn, one ShareGPT observation for
parallel calls, and tool replies matched by position (its phone and named-secret cases joined
the tables of test_redaction.py)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from rft_sanitizer.adapters import adapt
from rft_sanitizer.checks import check_tool_chain
from rft_sanitizer.closing import is_closing_turn
from rft_sanitizer.core import sanitize
from rft_sanitizer.redaction import Redactor
from rft_schemas.conversation import Conversation, Message
from rft_schemas.traces import Rejection, RejectionReason
from tests.sanitizer.chats import SYSTEM, TOOLS, accepted, assistant, conversation, tool, user

# 1. tool-call arguments are redacted value by value and stay valid JSON


def _redacted_arguments(arguments: str) -> tuple[str, Redactor]:
    redactor = Redactor()
    message = Message.model_validate(assistant(calls=[("c", "lookup", arguments)]))
    (call,) = redactor.message(message).tool_calls or []
    return call.function.arguments, redactor


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"card_number": 4111111111111111}', {"card_number": "<CARD_1>"}),
        ('{"api_key": 12345678901}', {"api_key": "<SECRET_1>"}),
        ('{"phone": 4155550199, "n": 2}', {"phone": "<PHONE_1>", "n": 2}),
        ('{"password": "hunter22hunter", "user": "ana"}',
         {"password": "<SECRET_1>", "user": "ana"}),
        ('{"session_token": "abcd1234efgh5678"}', {"session_token": "<SECRET_1>"}),
        ('{"to": ["a@x.io", "b@x.io"], "card": {"pan": "4111 1111 1111 1111", "cvv": 123}}',
         {"to": ["<EMAIL_1>", "<EMAIL_2>"], "card": {"pan": "<CARD_1>", "cvv": 123}}),
        ('{"note": "call +44 20 7946 0958", "ok": true, "x": null, "f": 1.5}',
         {"note": "call <PHONE_1>", "ok": True, "x": None, "f": 1.5}),
    ],
)
def test_tool_call_arguments_redact_to_valid_json_with_the_same_keys(arguments, expected):
    redacted, redactor = _redacted_arguments(arguments)
    parsed = orjson.loads(redacted)  # raises when the redaction broke the JSON
    assert parsed == expected
    assert list(parsed) == list(orjson.loads(arguments))
    assert redactor.counts


def test_clean_tool_call_arguments_are_left_byte_for_byte():
    arguments = '{"id":  "ABC123", "seats": [12, 14], "when": "2024-05-03 10:30"}'
    redacted, redactor = _redacted_arguments(arguments)
    assert redacted == arguments and not redactor.counts


def test_card_in_arguments_through_sanitize_keeps_valid_json(trace, policy):
    arguments = '{"card_number": 4111111111111111, "api_key": 12345678901}'
    record = conversation(
        SYSTEM, user("Pay for booking ABC123 with my usual card please"),
        assistant(calls=[("c", "lookup", arguments)]))
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    redacted = prompt.reference[0].tool_calls[0].function.arguments
    assert json.loads(redacted) == {"card_number": "<CARD_1>", "api_key": "<SECRET_1>"}


# 2. a closing turn is a whole, short courtesy; a request after the thanks keeps the turn


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "Thank you so much for your help",
        "That's all, bye",
        "###STOP###",
        "Thanks, bye! ###STOP###",
        "I appreciate your help.",
        "Thank you very much for all of your help today!",
        "Great, thanks for checking. Have a nice day!",
    ],
)
def test_closing_turns(text):
    assert is_closing_turn(text)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for checking, now please cancel my reservation ABC123",
        "Thanks for checking now please cancel my reservation ABC123",
        "I appreciate your help, could you cancel the booking",
        "I appreciate your help could you cancel the booking",
        "Thank you for your help yesterday, please book me a flight to Paris on May 3",
        "Thanks for that, can I also change my seat",
        "Thanks for the info?",
        "Thank you for looking into it but I still need the refund for my flight",
        "Thanks, and cancel the second one",
    ],
)
def test_turns_with_a_request_are_not_closing(text):
    assert not is_closing_turn(text)


def test_single_thanks_turn_with_a_request_is_a_prompt(trace, policy):
    text = "Thank you for your help yesterday, please book me a flight to Paris on May 3"
    record = conversation(SYSTEM, user(text), tools=None)
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    assert prompt.messages[-1].content == text


def test_cut_keeps_a_request_made_after_thanks(trace, policy):
    record = conversation(
        SYSTEM, user("Find booking ABC123"), assistant("Found it."),
        user("Thanks for checking, now please cancel my reservation ABC123"),
        assistant("Cancelled."), user("Thanks! ###STOP###"), tools=None)
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    assert prompt.messages[-1].content.startswith("Thanks for checking, now please cancel")


# 3. calls unanswered at the end belong to the reference, also before a closing turn


def test_unanswered_final_call_followed_by_closing_turn_is_the_reference(trace, policy):
    record = conversation(
        SYSTEM, user("Check booking ABC123 please"),
        assistant(calls=[("a", "lookup", '{"id": "ABC123"}')]), user("###STOP###"))
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    assert prompt.messages[-1].content == "Check booking ABC123 please"
    assert prompt.reference[0].tool_calls[0].function.name == "lookup"


def test_unanswered_call_before_a_meaningful_turn_is_still_broken(trace, policy):
    record = conversation(
        SYSTEM, user("Check booking ABC123 please"), assistant(calls=[("a", "lookup", "{}")]),
        user("Thanks! Now cancel it please."), user("###STOP###"))
    result = sanitize(trace(record), policy)
    assert isinstance(result, Rejection) and result.reason is RejectionReason.BROKEN_TOOL_CHAIN


# 4. one ShareGPT observation answers every call of the function_call turn


@pytest.mark.parametrize(
    "observation", ['{"Paris": "10:00", "Tokyo": "17:00"}', "10:00 and 17:00", "[1, 2, 3]"]
)
def test_sharegpt_one_observation_for_parallel_calls_keeps_the_chain(observation):
    adapted = adapt({
        "conversations": [
            {"from": "human", "value": "Time in Paris and Tokyo?"},
            {"from": "function_call", "value": orjson.dumps([
                {"name": "time", "arguments": {"city": "Paris"}},
                {"name": "time", "arguments": {"city": "Tokyo"}},
            ]).decode()},
            {"from": "observation", "value": observation},
            {"from": "gpt", "value": "10:00 and 17:00."},
            {"from": "human", "value": "And in Rome, please?"},
        ],
        "tools": "[]",
    })
    messages = adapted.conversation.messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool", "assistant", "user"]
    assert messages[2].content == messages[3].content == observation
    assert check_tool_chain(adapted.conversation) is None


# 5. a reply answers the call at its position; its id is used only where it names another call


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
