"""An LLM's second opinion on low-confidence prompts (optional, off unless a judge is given).

The judge sees the prompt and the candidate topics (the winner and the runner-up, with their
descriptions) and names one. Its answer is parsed like a topic label: robust to prose and
fences; an answer naming no candidate leaves the record as it was.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Protocol

from rft_categorizer.coverage import OTHER_TOPIC, topic_key
from rft_categorizer.editing import HierarchyEditError, find_topic
from rft_categorizer.labeling import ChatMessage, json_objects
from rft_schemas.topics import CategorizationMethod, CategorizedPrompt, TopicHierarchy


class TopicJudge(Protocol):
    """An LLM behind an OpenAI-compatible chat endpoint: messages in, the answer's text out."""

    async def complete(self, messages: list[ChatMessage]) -> str: ...


def judge_messages(
    prompt_text: str, candidates: Sequence[tuple[str, str]]
) -> list[ChatMessage]:
    listing = "\n".join(f"- {key}: {description}" for key, description in candidates)
    keys = ", ".join(key for key, _ in candidates)
    return [
        {
            "role": "system",
            "content": f"Pick the topic of a user request, one of: {keys}. Answer with JSON "
            'only, as {"topic": "<topic>"}.',
        },
        {
            "role": "user",
            "content": f"Request: {' '.join(prompt_text.split())[:1000]}\n\nTopics:\n{listing}",
        },
    ]


_TOPIC_FIELD = re.compile(r'"topic"\s*:\s*"([^"]*)"')


def parse_choice(answer: str, keys: Sequence[str]) -> str | None:
    """The candidate key the answer names: a JSON ``topic`` that is a key (or a key followed by
    its description, as small models write it), or failing that, one key alone in the text."""
    values = [c.get("topic") for c in json_objects(answer)]
    # An object cut at the token limit does not parse; its "topic" field may still be whole.
    values += _TOPIC_FIELD.findall(answer)
    for value in values:
        if not isinstance(value, str):
            continue
        named = value.strip().split(":", 1)[0].strip()
        if named in keys:
            return named
    named_in_text = [k for k in keys if k in answer]
    return named_in_text[0] if len(named_in_text) == 1 else None


class Decision(Protocol):
    """What the rule below reads of a decision: a stored record or a fresh assignment."""

    @property
    def confidence(self) -> float: ...
    @property
    def runner_up(self) -> Sequence[str] | None: ...
    @property
    def uncategorized(self) -> bool: ...


def needs_second_opinion(record: Decision, below: float) -> bool:
    """Unsure between two topics: not confident, with a runner-up, and not far from every
    topic (an uncategorized prompt is for a person to place)."""
    return record.confidence < below and bool(record.runner_up) and not record.uncategorized


async def second_opinion(
    records: Sequence[CategorizedPrompt],
    texts: Sequence[str],
    hierarchy: TopicHierarchy,
    judge: TopicJudge,
    below: float = 0.5,
    max_concurrent: int = 4,
    timeout_s: float = 60.0,
) -> list[CategorizedPrompt]:
    """Ask ``judge`` about each record under ``below`` confidence that has a runner-up.

    When the judge picks the runner-up, the record moves there with method ``llm`` and the
    runner-up's (calibrated embedding) probability as its confidence; when it confirms the
    winner, the method becomes ``llm`` and the rest stays. Failures change nothing.
    """
    semaphore = asyncio.Semaphore(max_concurrent)

    async def review(record: CategorizedPrompt, text: str) -> CategorizedPrompt:
        if not needs_second_opinion(record, below):
            return record
        candidates = []
        for path in (record.topic_path, record.runner_up or []):
            if path == [OTHER_TOPIC]:
                candidates.append((OTHER_TOPIC, "none of the other topics"))
                continue
            try:
                description = find_topic(hierarchy, path).description
            except HierarchyEditError:  # the hierarchy changed under the record
                return record
            candidates.append((topic_key(path), description))
        async with semaphore:
            try:
                answer = await asyncio.wait_for(
                    judge.complete(judge_messages(text, candidates)), timeout_s
                )
            except Exception:  # the second opinion is optional: keep the first one
                return record
        choice = parse_choice(answer, [key for key, _ in candidates])
        if choice is None:
            return record
        if choice == topic_key(record.topic_path):
            return record.model_copy(update={"method": CategorizationMethod.LLM})
        return record.model_copy(
            update={
                "topic_path": list(record.runner_up),
                "runner_up": list(record.topic_path),
                "confidence": record.runner_up_confidence or 0.0,
                "runner_up_confidence": record.confidence,
                "method": CategorizationMethod.LLM,
            }
        )

    return list(await asyncio.gather(*(review(r, t) for r, t in zip(records, texts, strict=True))))
