"""The pure core: checks with their reason codes, tool chains by position, prompt extraction
policies, stable prompt ids, item fields. Every case goes through ``sanitize``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rft_sanitizer.core import Policy, sanitize
from rft_sanitizer.settings import ExtractionPolicy, RedactionMode
from rft_sanitizer.tokens import SMOLLM2, load_token_counter
from rft_schemas.traces import RejectionReason
from tests.sanitizer.chats import (
    SYSTEM,
    accepted,
    assistant,
    conversation,
    rejected,
    tool,
    user,
)
from tests.sanitizer.counting import fresh_counter


def test_tool_reply_without_call_is_broken_chain(trace, policy):
    record = conversation(SYSTEM, user("Find my booking ABC123"), tool("{}"), user("Well?"))
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.BROKEN_TOOL_CHAIN


def test_more_replies_than_calls_is_broken_chain(trace, policy):
    record = conversation(
        SYSTEM, user("Find booking ABC123"), assistant(calls=[("c", "lookup", "{}")]),
        tool("a", "c"), tool("b", "c"), user("Thanks, and the second one?"))
    result = sanitize(trace(record), policy)
    assert rejected(result) is RejectionReason.BROKEN_TOOL_CHAIN
    assert result.path == "messages[4]"


def test_repeated_call_ids_match_by_position(trace, policy):
    record = conversation(
        SYSTEM, user("Check both bookings ABC123 and XYZ789"),
        assistant(calls=[("call_id", "lookup", '{"id": "ABC123"}'),
                         ("call_id", "lookup", '{"id": "XYZ789"}')]),
        tool("ABC123: ok", "call_id"), tool("XYZ789: ok", "call_id"),
        assistant("Both are fine."), user("Great, now cancel XYZ789 please."))
    assert accepted(sanitize(trace(record), policy)).prompts


def test_replies_out_of_order_match_by_their_ids(trace, policy):
    record = conversation(
        SYSTEM, user("Check both bookings ABC123 and XYZ789"),
        assistant(calls=[("a", "lookup", "{}"), ("b", "lookup", "{}")]),
        tool("second", "b"), tool("first", "a"), user("Now cancel the first one please."))
    assert accepted(sanitize(trace(record), policy)).prompts


def test_reply_whose_id_names_no_call_answers_the_call_at_its_position(trace, policy):
    # ids are not unique in real data: position decides, ids only where they agree
    record = conversation(
        SYSTEM, user("Check booking ABC123"), assistant(calls=[("a", "lookup", "{}")]),
        tool("x", "zzz"), user("Now cancel it please."))
    assert accepted(sanitize(trace(record), policy)).prompts


def test_strict_refuses_a_prompt_holding_a_call_left_unanswered(trace, policy):
    record = conversation(
        SYSTEM, user("Check booking ABC123"), assistant(calls=[("a", "lookup", "{}")]),
        user("###STOP###"))
    strict = replace(policy, extraction=ExtractionPolicy.STRICT)
    # a bare control marker is no user turn (it is dropped): the trace ends on the open call
    assert rejected(sanitize(trace(record), strict)) is RejectionReason.NOT_ENDING_ON_USER
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts  # the default cuts before it
    assert prompt.reference[0].tool_calls


def test_call_unanswered_before_the_next_turn_is_broken_chain(trace, policy):
    record = conversation(
        SYSTEM, user("Check booking ABC123"), assistant(calls=[("a", "lookup", "{}")]),
        user("Hello? Can you cancel it please?"))
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.BROKEN_TOOL_CHAIN


def test_unanswered_calls_at_the_end_belong_to_the_reference(trace, policy):
    record = conversation(
        SYSTEM, user("Check booking ABC123 please"),
        assistant(calls=[("a", "lookup", '{"id": "ABC123"}')]))
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    assert prompt.messages[-1].role == "user"
    assert prompt.reference[0].tool_calls[0].function.name == "lookup"


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
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.BROKEN_TOOL_CHAIN


def test_arguments_that_are_not_a_json_object_are_invalid(trace, policy):
    for arguments in ("{not json", "[1, 2]", '"text"'):
        record = conversation(
            SYSTEM, user("Check booking ABC123 please"),
            assistant(calls=[("a", "lookup", arguments)]))
        result = sanitize(trace(record), policy)
        assert rejected(result) is RejectionReason.INVALID_TOOL_ARGUMENTS, arguments


def test_call_to_a_tool_not_in_tools_is_unknown_tool(trace, policy):
    record = conversation(
        SYSTEM, user("Delete all bookings now"), assistant(calls=[("a", "drop_tables", "{}")]))
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.UNKNOWN_TOOL


def test_without_tools_any_call_name_is_accepted(trace, policy):
    record = conversation(
        SYSTEM, user("Delete all bookings now"), assistant(calls=[("a", "drop_tables", "{}")]),
        tools=None)
    assert accepted(sanitize(trace(record), policy))


def test_unknown_role_is_rejected_with_its_name(trace, policy):
    result = sanitize(trace({"messages": [{"role": "robot", "content": "beep"}]}), policy)
    assert rejected(result) is RejectionReason.UNKNOWN_ROLE
    assert "robot" in result.detail


def test_conversation_without_user_is_missing_user_message(trace, policy):
    record = conversation(SYSTEM, assistant("You're great!"))
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.MISSING_USER_MESSAGE


@pytest.mark.parametrize("content", [None, "", "   \n", "\x16"])
def test_user_turn_without_text_is_empty_content(trace, policy, content):
    record = conversation(SYSTEM, user("Find booking ABC123"), assistant("Found."), user(content))
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.EMPTY_CONTENT


def test_invalid_json_is_rejected_with_position(trace, policy):
    result = sanitize(trace('{"messages": [}'), policy)
    assert rejected(result) is RejectionReason.INVALID_JSON
    assert "char" in result.detail


LONG_CHAT = conversation(
    SYSTEM,
    user("I want to change my flight to Friday."),
    assistant(calls=[("c", "lookup", '{"id": "ABC123"}')]),
    tool('{"flight": "HAT156"}', "c"),
    assistant("Your flight HAT156 can move to Friday for $50. Proceed?"),
    user("Yes, go ahead and move it."),
    assistant("Done. Anything else?"),
    user("Thank you so much! Have a great day! ###STOP###"),
)


def test_default_policy_cuts_at_the_last_meaningful_user_turn(trace, policy):
    (prompt,) = accepted(sanitize(trace(LONG_CHAT), policy)).prompts
    assert prompt.messages[-1].content == "Yes, go ahead and move it."
    assert [m.content for m in prompt.reference] == ["Done. Anything else?"]
    assert prompt.lineage.cut_at_message == 5
    assert prompt.lineage.policy == "last_meaningful_user"


def test_per_user_turn_policy_yields_a_prompt_per_meaningful_user_turn(trace, policy):
    per_turn = replace(policy, extraction=ExtractionPolicy.PER_USER_TURN)
    prompts = accepted(sanitize(trace(LONG_CHAT), per_turn)).prompts
    assert [p.lineage.cut_at_message for p in prompts] == [1, 5]
    assert len(prompts[1].messages) == 6  # the later prompt carries the earlier context
    assert prompts[0].reference[0].tool_calls and prompts[0].reference[1].role == "tool"
    assert len({p.id for p in prompts}) == 2


def test_strict_policy_rejects_what_does_not_end_on_a_user_turn(trace, policy):
    strict = replace(policy, extraction=ExtractionPolicy.STRICT)
    record = conversation(SYSTEM, user("Move my flight to Friday please"), assistant("Done."))
    assert rejected(sanitize(trace(record), strict)) is RejectionReason.NOT_ENDING_ON_USER
    (prompt,) = accepted(sanitize(trace(LONG_CHAT), strict)).prompts
    # taken whole, but without the control marker
    assert prompt.messages[-1].content == "Thank you so much! Have a great day!"
    assert prompt.reference == []


def test_only_closing_user_turns_is_missing_user_message(trace, policy):
    record = conversation(SYSTEM, assistant("How can I help?"), user("Thanks, bye! ###STOP###"))
    result = sanitize(trace(record), policy)
    assert rejected(result) is RejectionReason.MISSING_USER_MESSAGE
    assert "closes" in result.detail


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


def test_prompt_id_ignores_whitespace_key_order_tool_order_and_call_ids(trace, policy):
    tools = [
        {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"parameters": {"type": "object"}, "name": "b"}},
    ]
    first = conversation(
        SYSTEM, user("Look up  booking\nABC123"),
        assistant(calls=[("x1", "a", '{"id": 1, "full": true}')]), tool("ok", "x1"),
        user("And cancel it."), tools=tools)
    second = conversation(
        SYSTEM, user("Look up booking ABC123 "),
        assistant(calls=[("y9", "a", '{"full":true,"id":1}')]), tool("ok", "y9"),
        user("And  cancel it."), tools=list(reversed(tools)))
    one = accepted(sanitize(trace(first), policy)).prompts[0]
    two = accepted(sanitize(trace(second, line=2), policy)).prompts[0]
    assert one.id == two.id
    changed = conversation(SYSTEM, user("Look up booking ABC124"), tools=tools)
    assert accepted(sanitize(trace(changed, line=3), policy)).prompts[0].id != one.id


def test_item_fields_travel_with_the_prompt(trace, policy):
    record = conversation(SYSTEM, user("What is 2 + 2? Answer with a number."),
                          reference_answer="4", reward=1.0, labels=["math"])
    (prompt,) = accepted(sanitize(trace(record), policy)).prompts
    assert prompt.item_fields == {"reference_answer": "4", "reward": 1.0, "labels": ["math"]}


def test_redaction_modes(trace, policy):
    record = conversation(
        SYSTEM, user("Mail the receipt to jane.doe@example.com and to jane.doe@example.com too."),
        assistant(calls=[("c", "lookup", '{"email": "jane.doe@example.com"}')]))
    redacted = accepted(sanitize(trace(record), policy))
    (prompt,) = redacted.prompts
    assert prompt.messages[-1].content == "Mail the receipt to <EMAIL_1> and to <EMAIL_1> too."
    assert prompt.reference[0].tool_calls[0].function.arguments == '{"email": "<EMAIL_1>"}'
    assert redacted.redactions == {"email": 3} and prompt.redactions == {"email": 3}
    off = accepted(sanitize(trace(record), replace(policy, redaction=RedactionMode.OFF)))
    assert "jane.doe@example.com" in off.prompts[0].messages[-1].content
    strict = sanitize(trace(record), replace(policy, redaction=RedactionMode.REJECT))
    assert rejected(strict) is RejectionReason.CONTAINS_SECRET


def test_token_bounds_decide_too_short_and_too_long(trace, policy: Policy):
    record = conversation(user("Hi"), tools=None)
    assert rejected(sanitize(trace(record), policy)) is RejectionReason.TOO_SHORT
    long_record = conversation(SYSTEM, user("word " * 3000), tools=None)
    result = sanitize(trace(long_record), replace(policy, max_tokens=2000))
    assert rejected(result) is RejectionReason.TOO_LONG
    assert "tokens, more than max_tokens=2000" in result.detail


def test_exact_count_only_where_the_byte_length_leaves_the_bound_open(trace, tokenizer_cache):
    policy = Policy(counter=load_token_counter(SMOLLM2, tokenizer_cache))  # nothing counted yet
    # the longest SmolLM2 token covers 81 bytes: a 1,000-byte prompt has >= 13 tokens, and
    # at most 1,002; both bounds inside [8, 8192] settle it without tokenizing
    request = "Please move my flight HAT156 to Friday morning. " * 20
    record = conversation(SYSTEM, user(request), tools=None)
    (estimated,) = accepted(sanitize(trace(record), policy)).prompts
    assert estimated.token_count is None
    everything = replace(policy, count_all_tokens=True)
    (counted,) = accepted(sanitize(trace(record), everything)).prompts
    assert counted.token_count is not None and 13 <= counted.token_count <= 1002
    short = conversation(user("Move HAT156 to Friday."), tools=None)
    (near_min,) = accepted(sanitize(trace(short), policy)).prompts
    assert near_min.token_count is not None  # under 648 bytes the lower bound is below 8


def test_a_system_prompt_counted_before_settles_the_bounds_without_the_tokenizer(
    trace, tokenizer_cache
):
    counter, calls = fresh_counter(tokenizer_cache)
    policy = Policy(counter=counter)
    system = {"role": "system", "content": "You help travellers change flights. Be brief. " * 3}
    first = accepted(sanitize(trace(conversation(system, user("Hi"), tools=None)), policy))
    # under 648 bytes the byte bounds leave min_tokens open: the longer segment is counted,
    # and its count alone places the prompt, so "Hi" is not
    assert [text.split("\n")[0] for text in calls.texts] == ["<|im_start|>system"]
    assert first.prompts[0].token_count is None
    calls.texts.clear()
    again = accepted(sanitize(trace(conversation(system, user("Hello"), tools=None)), policy))
    assert calls.texts == [] and again.prompts[0].token_count is None
