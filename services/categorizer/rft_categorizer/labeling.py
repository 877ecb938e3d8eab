"""Names and one-line descriptions of discovered topics: by an LLM when one answers, else from
what the prompts say (the tool their reference calls, a keyphrase: keyphrases.py), else keywords.

Small local models (SmolLM2-135M is the default) often answer with prose, code fences, several
JSON objects, a name in Title Case, or nothing useful. ``parse_label`` takes the first JSON
object that has a usable name, forces the name to snake_case, and refuses names that are empty,
too long, or an echo of the instructions; the caller then keeps the keyword label.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rft_categorizer.keywords import keyword_name, snake_case

ChatMessage = dict[str, str]

_SYSTEM = (
    "You name clusters of user requests sent to an AI assistant. Answer with one JSON object "
    'and nothing else: {"name": "<2-4 word snake_case topic name>", "description": "<one '
    'sentence saying what these requests ask for>"}'
)
_REFUSED_NAMES = {"topic", "name", "snake_case", "topic_name", "cluster", "other", "unknown"}
MAX_NAME_WORDS = 5
MAX_DESCRIPTION = 200


class TopicLabeler(Protocol):
    """An LLM behind an OpenAI-compatible chat endpoint: messages in, the answer's text out."""

    async def complete(self, messages: list[ChatMessage]) -> str: ...


@dataclass(frozen=True)
class TopicLabel:
    name: str
    description: str
    from_llm: bool


def label_messages(keywords: Sequence[str], examples: Sequence[str]) -> list[ChatMessage]:
    """The chat request for one topic: its keywords and a few representative prompts."""
    shown = "\n".join(f"- {' '.join(e.split())[:200]}" for e in examples[:6])
    user = (
        f"Keywords: {', '.join(keywords[:8])}\n"
        f"Example requests:\n{shown}\n\n"
        "Name this group of requests. JSON only."
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def parse_label(answer: str) -> TopicLabel | None:
    """The label in an LLM's answer, or None when the answer holds no usable one."""
    for candidate in json_objects(answer):
        name = candidate.get("name")
        if not isinstance(name, str):
            continue
        slug = snake_case(name)
        if not slug or slug in _REFUSED_NAMES or slug.count("_") >= MAX_NAME_WORDS:
            continue
        if not re.match(r"^[a-z]", slug):
            continue
        description = candidate.get("description")
        text = " ".join(description.split()) if isinstance(description, str) else ""
        if len(text) > MAX_DESCRIPTION:
            text = text[: MAX_DESCRIPTION - 1].rsplit(" ", 1)[0] + "…"
        return TopicLabel(name=slug, description=text, from_llm=True)
    return None


def json_objects(text: str) -> list[dict[str, object]]:
    """Every JSON object embedded in ``text``, in order (fences and prose around them ignored)."""
    decoder = json.JSONDecoder()
    found: list[dict[str, object]] = []
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        start = text.find("{", end)
    return found


def keyword_label(keywords: Sequence[str], examples: Sequence[str]) -> TopicLabel:
    """The fallback label: a name from the top keywords, a description from the keywords."""
    name = keyword_name(keywords)
    if keywords:
        description = f"Requests about {', '.join(keywords[:4])}."
    elif examples:
        description = f"Requests like: {' '.join(examples[0].split())[:120]}"
    else:
        description = ""
    return TopicLabel(name=name, description=description, from_llm=False)


def phrase_label(
    phrases: Sequence[str], keywords: Sequence[str], examples: Sequence[str]
) -> TopicLabel:
    """A name from the leading keyphrase (a phrase the prompts use), keywords when there is none."""
    name = snake_case(phrases[0]) if phrases else ""
    if not name:
        return keyword_label(keywords, examples)
    description = f"Requests about {', '.join(phrases[:3])}."
    return TopicLabel(name=name, description=description, from_llm=False)


async def label_topic(
    keywords: Sequence[str],
    examples: Sequence[str],
    labeler: TopicLabeler | None,
    timeout_s: float = 60.0,
    fallback: TopicLabel | None = None,
) -> TopicLabel:
    """Ask the labeler; on no labeler, an error, a timeout or an unusable answer, use
    ``fallback`` (a label from the traces or keyphrases), else the keywords."""
    if labeler is not None:
        try:
            answer = await asyncio.wait_for(
                labeler.complete(label_messages(keywords, examples)), timeout_s
            )
        except Exception:  # any failure of the LLM only costs the nicer name
            answer = ""
        label = parse_label(answer)
        if label is not None:
            if not label.description:
                plain = fallback or keyword_label(keywords, examples)
                label = TopicLabel(label.name, plain.description, True)
            return label
    return fallback or keyword_label(keywords, examples)


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... when a sibling already has it."""
    if name not in taken:
        return name
    suffix = 2
    while f"{name}_{suffix}" in taken:
        suffix += 1
    return f"{name}_{suffix}"
