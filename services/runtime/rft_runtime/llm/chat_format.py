"""How OpenAI messages, tools and JSON-schema requests become a prompt for a model whose chat
template knows only plain role/content turns (SmolLM2), and how its answer becomes tool calls.

SmolLM2 has no native tool format. The convention used is the Hermes one (also Qwen2.5's):
- the tools are listed as JSON, one per line, inside ``<tools></tools>`` in the system turn, with
  the instruction to answer each call as
  ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``;
- an assistant turn that called tools is rendered the same way, so history reads as the model
  should write;
- a tool result is a user turn wrapped in ``<tool_response></tool_response>``.
An answer whose ``<tool_call>`` blocks do not parse, or name a tool that was not offered, is
returned as plain text content: a caller sees what the model wrote, never a guessed call.

``tool_choice`` is honoured by prefilling the answer (the model has no constrained decoding):
``"required"`` opens a call and its name, a named function opens that call up to its arguments.
The prefill is part of the answer that is parsed, so a caller sees a whole call.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from rft_runtime.llm.protocol import ResponseFormat
from rft_schemas.conversation import FunctionCall, Message, ToolCall, ToolSpec

TOOLS_PREAMBLE = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
TOOLS_INSTRUCTION = (
    "\n</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
REQUIRED_CALL_PREFIX = '<tool_call>\n{"name": "'
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)


def render_turns(
    messages: list[Message],
    tools: list[ToolSpec] | None = None,
    response_format: ResponseFormat | None = None,
) -> list[dict[str, str]]:
    """Plain ``{"role", "content"}`` turns for the model's own chat template."""
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            turns.append({"role": "system", "content": message.text()})
        elif message.role == "tool":
            turns.append(
                {"role": "user", "content": f"<tool_response>\n{message.text()}\n</tool_response>"}
            )
        elif message.role == "assistant":
            turns.append({"role": "assistant", "content": _assistant_text(message)})
        else:
            turns.append({"role": "user", "content": message.text()})
    system_extra = [
        part
        for part in (_tools_block(tools), _format_block(response_format))
        if part is not None
    ]
    if system_extra:
        if turns and turns[0]["role"] == "system":
            turns[0] = {
                "role": "system",
                "content": "\n\n".join([turns[0]["content"], *system_extra]),
            }
        else:
            turns.insert(0, {"role": "system", "content": "\n\n".join(system_extra)})
    return turns


def _assistant_text(message: Message) -> str:
    parts = [message.text()] if message.text() else []
    for call in message.tool_calls or []:
        try:
            arguments: Any = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError:
            arguments = call.function.arguments
        body = json.dumps({"name": call.function.name, "arguments": arguments})
        parts.append(f"<tool_call>\n{body}\n</tool_call>")
    return "\n".join(parts)


def _tools_block(tools: list[ToolSpec] | None) -> str | None:
    if not tools:
        return None
    listing = "\n".join(json.dumps(tool.model_dump(exclude_none=True)) for tool in tools)
    return TOOLS_PREAMBLE + listing + TOOLS_INSTRUCTION


def _format_block(response_format: ResponseFormat | None) -> str | None:
    """Structured output, asked for in words: the local model has no constrained decoding."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_schema" and response_format.json_schema is not None:
        schema = json.dumps(response_format.json_schema.schema_)
        return f"Answer with one JSON object only, matching this JSON Schema:\n{schema}"
    return "Answer with one JSON object only."


def answer_prefix(tools: list[ToolSpec] | None, tool_choice: str | dict[str, Any] | None) -> str:
    """What the answer must start with for ``tool_choice`` (OpenAI's values): nothing for
    ``"auto"``, ``"none"`` or no tools; a call for ``"required"``; that call for a named one."""
    if not tools or tool_choice in (None, "auto", "none"):
        return ""
    if tool_choice == "required":
        return REQUIRED_CALL_PREFIX
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name in {tool.function.name for tool in tools}:
            return f'{REQUIRED_CALL_PREFIX}{name}", "arguments": '
    raise ValueError(f"tool_choice {tool_choice!r} is not auto, none, required or an offered "
                     "function")


@dataclass(frozen=True)
class ParsedAnswer:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)


def parse_answer(text: str, tools: list[ToolSpec] | None) -> ParsedAnswer:
    """Split a completion into content and tool calls (only when tools were offered)."""
    if not tools or "<tool_call>" not in text:
        return ParsedAnswer(content=text)
    offered = {tool.function.name for tool in tools}
    calls: list[ToolCall] = []
    for block in _TOOL_CALL.findall(text):
        call = _parse_call(block, offered)
        if call is None:
            return ParsedAnswer(content=text)
        calls.append(call)
    rest = _TOOL_CALL.sub("", text).strip()
    return ParsedAnswer(content=rest or None, tool_calls=calls)


def _parse_call(block: str, offered: set[str]) -> ToolCall | None:
    try:
        payload = json.loads(block.strip())
    except json.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None
    name = payload.get("name")
    arguments = payload.get("arguments", {})
    if not isinstance(name, str) or name not in offered:
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ToolCall(
        id=f"call_{uuid.uuid4().hex[:24]}",
        function=FunctionCall(name=name, arguments=json.dumps(arguments)),
    )
