"""Each trace format's adapter, and the detector that names a record's format."""

from __future__ import annotations

import orjson
import pytest

from rft_sanitizer.adapters import AdaptError, adapt, detect_format
from rft_sanitizer.checks import check_tool_chain
from rft_sanitizer.core import Accepted, sanitize
from rft_schemas.traces import RejectionReason, TraceFormat


def test_openai_legacy_function_call_and_function_role_become_tool_turns():
    adapted = adapt(
        {
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": None,
                 "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"role": "function", "name": "get_weather", "content": "18C"},
                {"role": "user", "content": "and in Rome?"},
            ],
            "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
            "reward": 1.0,
        }
    )
    assert adapted.format is TraceFormat.OPENAI_CHAT
    call = adapted.conversation.messages[1].tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    reply = adapted.conversation.messages[2]
    assert (reply.role, reply.name, reply.content) == ("tool", "get_weather", "18C")
    assert adapted.conversation.tools[0].function.name == "get_weather"
    assert adapted.item_fields == {"reward": 1.0}


def test_sharegpt_function_call_list_and_observation_list_split_per_call():
    adapted = adapt(
        {
            "system": "You call tools.",
            "conversations": [
                {"from": "human", "value": "Time in Paris and Tokyo?"},
                {"from": "function_call", "value": orjson.dumps([
                    {"name": "time", "arguments": {"city": "Paris"}},
                    {"name": "time", "arguments": {"city": "Tokyo"}},
                ]).decode()},
                {"from": "observation", "value": '[{"t": "10:00"}, {"t": "17:00"}]'},
                {"from": "gpt", "value": "10:00 and 17:00."},
            ],
            "tools": "[]",
            "label": "time",
        }
    )
    roles = [m.role for m in adapted.conversation.messages]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert adapted.conversation.messages[2].tool_calls[1].function.arguments == '{"city":"Tokyo"}'
    assert adapted.conversation.messages[4].content == '{"t":"17:00"}'
    assert adapted.conversation.tools is None  # "[]": the functions live in the system prompt
    assert adapted.item_fields == {"label": "time"}


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


def test_sharegpt_unknown_speaker_is_unknown_role():
    with pytest.raises(AdaptError) as raised:
        adapt({"conversations": [{"from": "narrator", "value": "Once upon a time"}]})
    assert raised.value.reason is RejectionReason.UNKNOWN_ROLE
    assert raised.value.path == "conversations[0].from"


def test_tau2_calls_with_dict_arguments_and_replies_with_id():
    record = {
        "id": "sim-1",
        "task_id": "7",
        "termination_reason": "user_stop",
        "policy": "Airline policy.",
        "messages": [
            {"role": "assistant", "content": "Hi!", "turn_idx": 0},
            {"role": "user", "content": "Cancel EHGLP3", "turn_idx": 1, "cost": 0.1},
            {"role": "assistant", "content": None, "turn_idx": 2, "tool_calls": [
                {"id": "c0", "name": "get_reservation", "arguments": {"id": "EHGLP3"},
                 "requestor": "assistant"}]},
            {"role": "tool", "id": "c0", "content": "{}", "turn_idx": 3},
        ],
    }
    assert detect_format(record) is TraceFormat.TAU2
    adapted = adapt(record)
    system, _, _, call_turn, reply = adapted.conversation.messages
    assert (system.role, system.content) == ("system", "Airline policy.")
    assert call_turn.tool_calls[0].function.arguments == '{"id":"EHGLP3"}'
    assert reply.tool_call_id == "c0"
    assert "turn_idx" not in (reply.model_extra or {})
    assert adapted.item_fields == {"id": "sim-1", "task_id": "7", "termination_reason": "user_stop"}


def test_bfcl_question_turns_flatten_and_functions_become_tools():
    adapted = adapt(
        {
            "id": "multiple_0",
            "question": [[{"role": "user", "content": "Area of a 3-4-5 triangle?"}],
                         [{"role": "user", "content": "And its perimeter?"}]],
            "function": [{"name": "triangle.get", "parameters": {"type": "dict"}}],
        }
    )
    assert adapted.format is TraceFormat.BFCL and adapted.whole_prompt
    assert [m.content for m in adapted.conversation.messages] == [
        "Area of a 3-4-5 triangle?", "And its perimeter?"]
    assert adapted.conversation.tools[0].function.parameters == {"type": "dict"}
    assert adapted.item_fields == {"id": "multiple_0"}


def _otlp(attributes: list[dict], name: str = "chat gpt-4o") -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
        "scopeSpans": [{"scope": {"name": "openai"}, "spans": [
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
             "name": "execute_tool", "attributes": [
                 {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}}]},
            {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
             "name": name, "attributes": attributes},
        ]}],
    }]}


def _string(key: str, value: object) -> dict:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return {"key": key, "value": {"stringValue": text}}


def test_otel_span_with_current_gen_ai_message_attributes():
    record = _otlp([
        _string("gen_ai.operation.name", "chat"),
        _string("gen_ai.request.model", "gpt-4o"),
        _string("gen_ai.system_instructions", [{"type": "text", "content": "Be brief."}]),
        _string("gen_ai.input.messages", [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "call_1", "name": "get_weather",
                 "arguments": {"city": "Paris"}}]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "call_1", "response": {"temp": 18}}]},
            {"role": "user", "parts": [{"type": "text", "content": "And tomorrow?"}]},
        ]),
        _string("gen_ai.output.messages", [
            {"role": "assistant", "parts": [{"type": "text", "content": "Rain."}],
             "finish_reason": "stop"}]),
        _string("gen_ai.tool.definitions", [
            {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]),
    ])
    assert detect_format(record) is TraceFormat.OTEL_GENAI
    adapted = adapt(record)
    messages = adapted.conversation.messages
    roles = [m.role for m in messages]
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant"]
    assert messages[2].tool_calls[0].function.arguments == '{"city":"Paris"}'
    assert (messages[3].tool_call_id, messages[3].content) == ("call_1", '{"temp":18}')
    assert adapted.conversation.tools[0].function.name == "get_weather"
    assert adapted.item_fields["gen_ai.request.model"] == "gpt-4o"
    assert adapted.item_fields["service.name"] == "agent"
    assert adapted.item_fields["span_id"] == "eee19b7ec3c1b175"


def test_otel_span_with_legacy_indexed_prompt_attributes():
    record = _otlp([
        _string("gen_ai.prompt.0.role", "system"),
        _string("gen_ai.prompt.0.content", "You are helpful."),
        _string("gen_ai.prompt.1.role", "user"),
        _string("gen_ai.prompt.1.content", "Book a table"),
        _string("gen_ai.completion.0.role", "assistant"),
        _string("gen_ai.completion.0.tool_calls.0.name", "book"),
        _string("gen_ai.completion.0.tool_calls.0.id", "c1"),
        _string("gen_ai.completion.0.tool_calls.0.arguments", '{"people": 2}'),
    ])
    messages = adapt(record).conversation.messages
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert messages[2].tool_calls[0].id == "c1"


def _event(name: str, **fields: object) -> dict:
    return {"timeUnixNano": "1724000000000000000", "name": name,
            "attributes": [_string(key, value) for key, value in fields.items()]}


def test_otel_span_with_one_event_per_message():
    record = _otlp([_string("gen_ai.operation.name", "chat")])
    chat = record["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    chat["events"] = [
        _event("gen_ai.system.message", content="Be brief."),
        _event("gen_ai.user.message", content="Weather in Paris?"),
        _event("gen_ai.assistant.message", tool_calls=[
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]),
        _event("gen_ai.tool.message", id="call_1", content="18C"),
        # the log-record form: the fields in a body
        _event("gen_ai.user.message", body={"content": "And tomorrow?"}),
        _event("gen_ai.choice", index=0, finish_reason="stop",
               message={"role": "assistant", "content": "Rain."}),
        _event("exception", message="ignored: not a gen_ai event"),
    ]
    messages = adapt(record).conversation.messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "user",
                                          "assistant"]
    assert messages[2].tool_calls[0].function.arguments == '{"city":"Paris"}'
    assert (messages[3].tool_call_id, messages[3].content) == ("call_1", "18C")
    assert (messages[4].content, messages[5].content) == ("And tomorrow?", "Rain.")


def test_otel_span_with_prompt_and_completion_content_events():
    record = _otlp([_string("gen_ai.system", "openai")])
    chat = record["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    chat["events"] = [
        _event("gen_ai.content.prompt", **{"gen_ai.prompt": [
            {"role": "system", "content": "You book tables."},
            {"role": "user", "content": "A table for two at eight"}]}),
        _event("gen_ai.content.completion", **{"gen_ai.completion": [
            {"index": 0, "message": {"role": "assistant", "tool_calls": [
                {"id": "c1", "function": {"name": "book", "arguments": '{"people": 2}'}}]}}]}),
    ]
    adapted = adapt(record)
    messages = adapted.conversation.messages
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    assert messages[2].tool_calls[0].id == "c1"
    assert adapted.item_fields["gen_ai.system"] == "openai"


def test_otel_event_with_a_broken_message_is_a_rejection_with_its_place():
    record = _otlp([_string("gen_ai.operation.name", "chat")])
    chat = record["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    chat["events"] = [_event("gen_ai.content.prompt", **{"gen_ai.prompt": "{not json"})]
    with pytest.raises(AdaptError) as raised:
        adapt(record)
    assert raised.value.reason is RejectionReason.INVALID_RECORD
    assert "events[0].gen_ai.prompt" in str(raised.value)


def test_otel_payload_without_gen_ai_spans_is_not_a_conversation():
    with pytest.raises(AdaptError) as raised:
        adapt(_otlp([_string("http.method", "GET")]))
    assert raised.value.reason is RejectionReason.NOT_A_CONVERSATION


@pytest.mark.parametrize("record", [{"text": "hello"}, [1, 2], "a string", 42, None, {}])
def test_unknown_shapes_are_not_a_conversation(record):
    assert detect_format(record) is TraceFormat.UNKNOWN
    with pytest.raises(AdaptError) as raised:
        adapt(record)
    assert raised.value.reason is RejectionReason.NOT_A_CONVERSATION


def test_messages_of_the_wrong_type_name_the_path():
    with pytest.raises(AdaptError) as raised:
        adapt({"messages": [{"role": "user", "content": 5}]})
    assert raised.value.reason is RejectionReason.INVALID_RECORD
    assert raised.value.path.startswith("messages[0].content")


@pytest.mark.parametrize("damage", [
    lambda r: r["resourceSpans"][0].__setitem__("resource", "x"),
    lambda r: r["resourceSpans"][0].__setitem__("scopeSpans", 5),
    lambda r: r["resourceSpans"][0]["scopeSpans"][0].__setitem__("spans", {"a": 1}),
    lambda r: r["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"].append(
        {"key": "k", "value": {"arrayValue": [1]}}),
    lambda r: r["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"].append(
        {"key": "k", "value": {"kvlistValue": [1]}}),
    lambda r: r["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["attributes"].append(
        _string("gen_ai.system_instructions", [{"type": "text", "content": 5}])),
])
def test_otel_fields_of_the_wrong_type_are_read_as_absent_never_a_crash(damage):
    record = _otlp([_string("gen_ai.input.messages", [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}])])
    damage(record)
    try:
        adapted = adapt(record)
    except AdaptError as refused:  # a rejection with its reason is fine; an exception is not
        assert refused.reason in set(RejectionReason)
    else:
        assert adapted.conversation.messages[-1].content == "Weather in Paris?"


def _chat_span(trace: str, text: str, attributes: list[dict] | None = None) -> dict:
    return {"traceId": trace, "spanId": trace[:16], "name": "chat", "attributes": attributes or [
        _string("gen_ai.input.messages", [
            {"role": "user", "parts": [{"type": "text", "content": text}]}])]}


def test_an_export_request_with_several_traces_gives_a_prompt_per_trace(trace, policy):
    record = {"resourceSpans": [{"scopeSpans": [{"spans": [
        _chat_span("a" * 32, "Book a table for two at eight"),
        _chat_span("b" * 32, "Move my flight to Friday, please"),
        _chat_span("c" * 32, "", [_string("gen_ai.input.messages", "{broken")]),
    ]}]}]}
    outcome = sanitize(trace(record), policy)
    assert isinstance(outcome, Accepted)
    assert sorted(p.messages[-1].content for p in outcome.prompts) == [
        "Book a table for two at eight", "Move my flight to Friday, please"]
    assert {p.item_fields["trace_id"] for p in outcome.prompts} == {"a" * 32, "b" * 32}
    assert outcome.dropped == {"invalid_record": 1}  # the third trace, counted, not fatal
