"""The normalized form of a prompt, and the stable id derived from it.

Two prompts are the same prompt when they differ only in whitespace runs, JSON key order (in
tool arguments and tool specs), the order of the tools, or tool-call ids (which trace systems
mint per run). The id is a hash of that form, so a duplicate has the same id as the prompt kept.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import TypeAdapter

from rft_sanitizer.memo import BoundedMemo
from rft_schemas.conversation import Message, ToolSpec


def _text(message: Message) -> str:
    return _single_spaced(message.text())


# Long texts (system prompts, agent policies) repeat across a dataset's records, and splitting
# one into its thousands of words is a large share of a prompt id: their single-spaced form is
# kept, by the text itself. Sized in characters.
_LONG_TEXT = 1024
_SINGLE_SPACED: BoundedMemo[str, str] = BoundedMemo(max_size=2 << 20)


def _single_spaced(text: str) -> str:
    """``" ".join(text.split())``, without splitting a text that is so already.

    Every whitespace character but the space is unprintable, so a printable text with no
    doubled, leading or trailing space has nothing to collapse (most turns are one line).
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    if len(text) < _LONG_TEXT:
        return " ".join(text.split())
    spaced = _SINGLE_SPACED.get(text)
    if spaced is None:
        spaced = " ".join(text.split())
        _SINGLE_SPACED.put(text, spaced, len(text) + len(spaced))
    return spaced


def _arguments(arguments: str) -> Any:
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return " ".join(arguments.split())


_TOOL_LIST = TypeAdapter(list[ToolSpec])


def tool_dicts(tools: list[ToolSpec] | None) -> list[dict[str, Any]]:
    """Each spec's ``model_dump(mode="json", exclude_none=True)``, in one serializer call."""
    if not tools:
        return []
    dumped: list[dict[str, Any]] = _TOOL_LIST.dump_python(tools, mode="json", exclude_none=True)
    return dumped


def canonical_tools(specs: list[dict[str, Any]]) -> list[bytes]:
    """Each tool spec (as :func:`tool_dicts` gives them) as sorted-key JSON, sorted."""
    return sorted(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS) for spec in specs)


def normalized_prompt(messages: list[Message], tools: list[bytes]) -> bytes:
    """The prompt's normalized form; ``tools`` as :func:`canonical_tools` gives them."""
    form: list[Any] = []
    for message in messages:
        calls = [
            [call.function.name, _arguments(call.function.arguments)]
            for call in message.tool_calls or ()
        ]
        form.append([message.role, _text(message), message.name, calls])
    return orjson.dumps(
        {"messages": form, "tools": [orjson.Fragment(s) for s in tools]},
        option=orjson.OPT_SORT_KEYS,
    )


def prompt_id(messages: list[Message], tools: list[bytes]) -> str:
    return "p-" + hashlib.blake2b(normalized_prompt(messages, tools), digest_size=16).hexdigest()


def trace_id(dataset: str, uri: str, position: int | None) -> str:
    """A source record's id: the same file line (or topic offset) always gets the same id."""
    key = f"{dataset}\x00{uri}\x00{position}".encode()
    return "t-" + hashlib.blake2b(key, digest_size=16).hexdigest()
