"""Tools, tool history and JSON-schema requests rendered for SmolLM2, and answers parsed back."""

from __future__ import annotations

import json

import pytest

from rft_runtime.llm.chat_format import answer_prefix, parse_answer, render_turns
from rft_runtime.llm.protocol import ResponseFormat
from rft_schemas.conversation import Message, ToolSpec

WEATHER = ToolSpec.model_validate(
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
)


def msg(**fields: object) -> Message:
    return Message.model_validate(fields)


def test_tools_are_listed_in_the_existing_system_turn() -> None:
    turns = render_turns(
        [msg(role="system", content="You are an agent."), msg(role="user", content="hi")],
        [WEATHER],
    )
    assert [t["role"] for t in turns] == ["system", "user"]
    system = turns[0]["content"]
    assert system.startswith("You are an agent.")
    listed = system.split("<tools>\n")[1].split("\n</tools>")[0]
    assert json.loads(listed)["function"]["name"] == "get_weather"
    assert "<tool_call>" in system


def test_tools_without_system_turn_open_one() -> None:
    turns = render_turns([msg(role="user", content="hi")], [WEATHER])
    assert turns[0]["role"] == "system" and "<tools>" in turns[0]["content"]
    assert turns[1] == {"role": "user", "content": "hi"}


def test_tool_history_renders_as_calls_and_responses() -> None:
    history = [
        msg(role="user", content="Weather in Oslo?"),
        msg(
            role="assistant",
            content=None,
            tool_calls=[
                {"id": "c1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
            ],
        ),
        msg(role="tool", tool_call_id="c1", content='{"temp_c": 3}'),
    ]
    turns = render_turns(history, [WEATHER])
    assistant, tool = turns[2], turns[3]
    assert assistant["role"] == "assistant"
    body = assistant["content"].removeprefix("<tool_call>\n").removesuffix("\n</tool_call>")
    assert json.loads(body) == {"name": "get_weather", "arguments": {"city": "Oslo"}}
    assert tool == {"role": "user", "content": '<tool_response>\n{"temp_c": 3}\n</tool_response>'}


def test_developer_turn_is_a_system_turn_and_content_parts_are_joined() -> None:
    turns = render_turns(
        [
            msg(role="developer", content="Be brief."),
            msg(role="user", content=[{"type": "text", "text": t} for t in ("a", "b")]),
        ]
    )
    assert turns == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a\nb"},
    ]


def test_json_schema_request_is_stated_in_the_system_turn() -> None:
    response_format = ResponseFormat.model_validate(
        {"type": "json_schema",
         "json_schema": {"name": "City", "schema": {"type": "object", "required": ["name"]}}}
    )
    turns = render_turns([msg(role="user", content="A city?")], None, response_format)
    assert '{"type": "object", "required": ["name"]}' in turns[0]["content"]


def test_tool_call_answer_becomes_openai_tool_calls() -> None:
    answer = parse_answer(
        'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
        "</tool_call>",
        [WEATHER],
    )
    assert answer.content == "Let me check."
    assert len(answer.tool_calls) == 1
    call = answer.tool_calls[0]
    assert call.id and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_unclosed_final_tool_call_still_parses() -> None:
    answer = parse_answer('<tool_call>{"name": "get_weather", "arguments": {}}', [WEATHER])
    assert answer.content is None
    assert [c.function.name for c in answer.tool_calls] == ["get_weather"]


def test_unparseable_tool_call_is_plain_text() -> None:
    text = '<tool_call>{"name": "get_weather", "arguments": {city: Paris}}</tool_call>'
    answer = parse_answer(text, [WEATHER])
    assert answer.content == text and answer.tool_calls == []


def test_call_to_a_tool_not_offered_is_plain_text() -> None:
    text = '<tool_call>{"name": "delete_account", "arguments": {}}</tool_call>'
    answer = parse_answer(text, [WEATHER])
    assert answer.content == text and answer.tool_calls == []


def test_tool_call_tags_without_tools_offered_are_plain_text() -> None:
    text = '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>'
    assert parse_answer(text, None).content == text


def test_tool_choice_required_opens_a_call_and_the_answer_parses_with_it() -> None:
    prefix = answer_prefix([WEATHER], "required")
    assert prefix.startswith("<tool_call>") and prefix.endswith('"name": "')
    answer = parse_answer(prefix + 'get_weather", "arguments": {"city": "Oslo"}}', [WEATHER])
    assert [c.function.name for c in answer.tool_calls] == ["get_weather"]


def test_a_named_tool_choice_opens_that_call_up_to_its_arguments() -> None:
    prefix = answer_prefix([WEATHER], {"type": "function", "function": {"name": "get_weather"}})
    answer = parse_answer(prefix + '{"city": "Oslo"}}', [WEATHER])
    assert json.loads(answer.tool_calls[0].function.arguments) == {"city": "Oslo"}


def test_auto_none_or_no_tools_prefill_nothing() -> None:
    assert answer_prefix([WEATHER], "auto") == answer_prefix([WEATHER], None) == ""
    assert answer_prefix([WEATHER], "none") == answer_prefix(None, "required") == ""


def test_a_tool_choice_naming_a_tool_not_offered_is_refused() -> None:
    with pytest.raises(ValueError, match="delete_account"):
        answer_prefix([WEATHER], {"type": "function", "function": {"name": "delete_account"}})
