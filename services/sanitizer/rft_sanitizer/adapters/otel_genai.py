"""OpenTelemetry GenAI spans in OTLP JSON, as an OTel Collector's Kafka exporter (``otlp_json``
encoding) writes them: one ExportTraceServiceRequest (``resourceSpans``) per record.

Three generations of the ``gen_ai.*`` conventions are read:
- current: ``gen_ai.input.messages`` / ``gen_ai.output.messages`` / ``gen_ai.system_instructions``
  / ``gen_ai.tool.definitions`` (messages of typed ``parts``: text, tool_call, tool_call_response);
- span events: one event per message (``gen_ai.system|user|assistant|tool.message`` and
  ``gen_ai.choice``, fields as event attributes or in a ``body`` attribute), or the older
  ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` events holding ``gen_ai.prompt`` /
  ``gen_ai.completion`` as JSON lists of OpenAI-style messages;
- legacy indexed attributes: ``gen_ai.prompt.<i>.role|content|tool_call_id`` and
  ``gen_ai.completion.<i>.role|content|tool_calls.<j>.id|name|arguments``.

An agent's trace holds one chat span per model call, and each later call carries the history
before it, so a trace's conversation is its chat span with the longest input, followed by its
output. An export request may batch several traces: each gives its own conversation.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from rft_sanitizer.adapters.base import (
    Adapted,
    AdaptError,
    build_conversation,
    check_role,
    function_tool,
    json_arguments,
)
from rft_schemas.traces import RejectionReason, TraceFormat

_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(.+)$")


def looks_like(record: dict[str, Any]) -> bool:
    return isinstance(record.get("resourceSpans"), list)


def adapt(record: dict[str, Any]) -> Adapted:
    """One conversation per trace of the export request (its chat span with the longest
    input); the first is the record's, the rest ride along in ``others``."""
    best: dict[Any, tuple[int, dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
    # Exporters are not validated upstream: a field of the wrong type is read as absent.
    for resource_spans in _list(record["resourceSpans"]):
        if not isinstance(resource_spans, dict):
            continue
        resource = _attributes(_dict(resource_spans.get("resource")).get("attributes"))
        for scope_spans in _list(resource_spans.get("scopeSpans")):
            if not isinstance(scope_spans, dict):
                continue
            for span in _list(scope_spans.get("spans")):
                if not isinstance(span, dict):
                    continue
                attributes = _attributes(span.get("attributes"))
                size = _input_size(attributes) or _event_count(span)
                trace = span.get("traceId")
                trace = trace if isinstance(trace, str) else None
                if size and (trace not in best or size > best[trace][0]):
                    best[trace] = (size, span, attributes, resource)
    if not best:
        raise AdaptError(
            RejectionReason.NOT_A_CONVERSATION,
            "no span carries gen_ai input messages",
            "resourceSpans",
        )
    adapted: list[Adapted] = []
    failed: list[AdaptError] = []
    for _, span, attributes, resource in best.values():
        try:
            adapted.append(_span_conversation(span, attributes, resource))
        except AdaptError as error:
            failed.append(error)
    if not adapted:
        raise failed[0]
    first, *others = adapted
    first.others.extend(others)
    first.failed.extend(failed)
    return first


def _span_conversation(
    span: dict[str, Any], attributes: dict[str, Any], resource: dict[str, Any]
) -> Adapted:
    if "gen_ai.input.messages" in attributes:
        messages, tools = _current(attributes)
    elif _input_size(attributes):
        messages, tools = _indexed(attributes)
    else:
        messages, tools = _event_messages(span), None
    item_fields: dict[str, Any] = {
        "trace_id": span.get("traceId"),
        "span_id": span.get("spanId"),
        "span_name": span.get("name"),
    }
    for key in ("gen_ai.request.model", "gen_ai.response.model", "gen_ai.provider.name",
                "gen_ai.system", "gen_ai.conversation.id"):
        if key in attributes:
            item_fields[key] = attributes[key]
    if "service.name" in resource:
        item_fields["service.name"] = resource["service.name"]
    return Adapted(TraceFormat.OTEL_GENAI, build_conversation(messages, tools), item_fields)


def _any_value(value: Any) -> Any:
    """An OTLP AnyValue as plain JSON (int64 arrive as strings in OTLP JSON)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [_any_value(v) for v in _list(_dict(value["arrayValue"]).get("values"))]
    if "kvlistValue" in value:
        return _attributes(_dict(value["kvlistValue"]).get("values"))
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _attributes(raw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in _list(raw):
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = _any_value(kv.get("value"))
    return out


def _input_size(attributes: dict[str, Any]) -> int:
    messages = attributes.get("gen_ai.input.messages")
    if messages is not None:
        try:
            parsed = _json(messages, "gen_ai.input.messages")
        except AdaptError:
            return 1  # a chat span still: reading its conversation names the problem
        return len(parsed) + 1 if isinstance(parsed, list) else 1
    return sum(1 for k in attributes if k.startswith("gen_ai.prompt.") and k.endswith(".role"))


def _json(value: Any, path: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        problem = f"{path} is not JSON: {exc}"
        raise AdaptError(RejectionReason.INVALID_RECORD, problem, path) from exc


def _current(attributes: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any] | None]:
    messages: list[dict[str, Any]] = []
    system = _json(attributes.get("gen_ai.system_instructions"), "gen_ai.system_instructions")
    if isinstance(system, list):
        text = "\n".join(str(p.get("content", "")) for p in system if isinstance(p, dict))
        messages.append({"role": "system", "content": text})
    elif isinstance(system, str):
        messages.append({"role": "system", "content": system})
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        value = _json(attributes.get(key), key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise AdaptError(RejectionReason.INVALID_RECORD, f"{key} is not a list", key)
        for i, raw in enumerate(value):
            messages.extend(_parts_message(raw, f"{key}[{i}]"))
    definitions = _json(attributes.get("gen_ai.tool.definitions"), "gen_ai.tool.definitions")
    tools = None
    if isinstance(definitions, list) and definitions:
        tools = [_definition(d, f"gen_ai.tool.definitions[{i}]") for i, d in enumerate(definitions)]
    return messages, tools


def _definition(raw: Any, path: str) -> dict[str, Any]:
    if isinstance(raw, dict) and "function" not in raw:
        raw = {k: v for k, v in raw.items() if k != "type"}
    return function_tool(raw, path)


def _parts_message(raw: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(raw, dict):
        raise AdaptError(RejectionReason.INVALID_RECORD, "a message is not an object", path)
    role = check_role(raw.get("role"), f"{path}.role")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    replies: list[dict[str, Any]] = []
    parts = raw.get("parts")
    if not isinstance(parts, list):
        raise AdaptError(RejectionReason.INVALID_RECORD, "parts is not a list", f"{path}.parts")
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            calls.append({
                "id": part.get("id"),
                "type": "function",
                "function": {
                    "name": part.get("name"),
                    "arguments": json_arguments(part.get("arguments", {}), f"{path}.parts[{j}]"),
                },
            })
        elif kind == "tool_call_response":
            response = part.get("response")
            content = response if isinstance(response, str) else orjson.dumps(response).decode()
            replies.append({"role": "tool", "tool_call_id": part.get("id"), "content": content})
    if replies:
        return replies
    message: dict[str, Any] = {"role": role, "content": "\n".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if raw.get("name"):
        message["name"] = raw["name"]
    return [message]


def _indexed(attributes: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any] | None]:
    grouped: dict[tuple[int, int], dict[str, Any]] = {}
    for key, value in attributes.items():
        match = _INDEXED.match(key)
        if match:
            order = 0 if match.group(1) == "prompt" else 1
            grouped.setdefault((order, int(match.group(2))), {})[match.group(3)] = value
    messages: list[dict[str, Any]] = []
    for (order, index), fields in sorted(grouped.items()):
        path = f"gen_ai.{'prompt' if order == 0 else 'completion'}.{index}"
        role = check_role(fields.get("role"), f"{path}.role")
        message: dict[str, Any] = {"role": role, "content": fields.get("content")}
        if "tool_call_id" in fields:
            message["tool_call_id"] = fields["tool_call_id"]
        calls: dict[int, dict[str, Any]] = {}
        for name, value in fields.items():
            if name.startswith("tool_calls."):
                _, number, attribute = name.split(".", 2)
                if number.isdigit():
                    calls.setdefault(int(number), {})[attribute] = value
        if calls:
            message["tool_calls"] = [
                {
                    "id": call.get("id"),
                    "type": "function",
                    "function": {
                        "name": call.get("name"),
                        "arguments": json_arguments(call.get("arguments", "{}"), path),
                    },
                }
                for _, call in sorted(calls.items())
            ]
        messages.append(message)
    return messages, None


_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.choice": "assistant",
}
_CONTENT_EVENTS = {"gen_ai.content.prompt": "gen_ai.prompt",
                   "gen_ai.content.completion": "gen_ai.completion"}


def _events(span: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(name, fields, path) of the span's gen_ai events, a ``body`` attribute merged in."""
    out = []
    events = span.get("events")
    for i, event in enumerate(events if isinstance(events, list) else ()):
        if not isinstance(event, dict):
            continue
        name = event.get("name")
        if name not in _MESSAGE_EVENTS and name not in _CONTENT_EVENTS:
            continue
        path = f"events[{i}]"
        fields = _attributes(event.get("attributes"))
        body = _json(fields.pop("body", None), f"{path}.body")
        if isinstance(body, dict):
            fields = {**fields, **body}
        out.append((name, fields, path))
    return out


def _event_count(span: dict[str, Any]) -> int:
    return len(_events(span))


def _event_messages(span: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for name, fields, path in _events(span):
        if name in _CONTENT_EVENTS:
            key = _CONTENT_EVENTS[name]
            listed = _json(fields.get(key), f"{path}.{key}")
            if not isinstance(listed, list):
                raise AdaptError(RejectionReason.INVALID_RECORD, f"{key} is not a list", path)
            for j, raw in enumerate(listed):
                # a completion lists choices ({"message": {...}}) or messages
                raw = raw.get("message", raw) if isinstance(raw, dict) else raw
                messages.append(_event_message("assistant", raw, f"{path}.{key}[{j}]"))
            continue
        if name == "gen_ai.choice":
            fields = _json(fields.get("message"), f"{path}.message") or fields
        messages.append(_event_message(_MESSAGE_EVENTS[name], fields, path))
    return messages


def _event_message(default_role: str, fields: Any, path: str) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise AdaptError(RejectionReason.INVALID_RECORD, "a message is not an object", path)
    role = check_role(fields.get("role") or default_role, f"{path}.role")
    content = fields.get("content")
    message: dict[str, Any] = {
        "role": role,
        "content": content if content is None or isinstance(content, str)
        else orjson.dumps(content).decode(),
    }
    if role == "tool":
        message["tool_call_id"] = fields.get("tool_call_id") or fields.get("id")
    calls = _json(fields.get("tool_calls"), f"{path}.tool_calls")
    if isinstance(calls, list) and calls:
        message["tool_calls"] = [_event_call(call, f"{path}.tool_calls[{k}]")
                                 for k, call in enumerate(calls)]
    return message


def _event_call(raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise AdaptError(RejectionReason.INVALID_RECORD, "a tool call is not an object", path)
    nested = raw.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else raw
    return {
        "id": raw.get("id"),
        "type": "function",
        "function": {
            "name": function.get("name"),
            "arguments": json_arguments(function.get("arguments", {}), path),
        },
    }
