"""The dry run's input: prompts of the train split, and the stratified sample of N of them.

A train split line is OpenAI's RFT shape and the grader's ``item`` as it is (the split writes it
with :func:`rft_schemas.grader_item.grader_item`); sanitized_prompts.jsonl lines
(SanitizedPrompt records) are read too, their item built by that same function.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rft_grader.sample import item_from_prompt
from rft_schemas.conversation import Message, ToolSpec
from rft_schemas.traces import SanitizedPrompt

ALL_TOPICS = "all"


@dataclass(frozen=True)
class DryRunPrompt:
    id: str
    topic: str
    messages: list[Message]
    tools: list[ToolSpec] | None
    item: dict[str, Any]


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


def topic_of(fields: dict[str, Any]) -> str:
    """The item's topic path joined with '/', or its topic; one topic for all otherwise."""
    path = fields.get("topic_path")
    if isinstance(path, list) and path and all(isinstance(p, str) for p in path):
        return "/".join(path)
    topic = fields.get("topic")
    return topic if isinstance(topic, str) and topic else ALL_TOPICS


def _content_id(messages: list[Message], tools: list[ToolSpec] | None) -> str:
    body = json.dumps([[m.model_dump(mode="json", exclude_none=True) for m in messages],
                       [t.model_dump(mode="json", exclude_none=True) for t in tools or []]],
                      sort_keys=True)
    return "p-" + hashlib.sha256(body.encode()).hexdigest()[:24]


def parse_prompt(record: dict[str, Any]) -> DryRunPrompt:
    """Raises ``ValueError`` (a pydantic ValidationError is one) for a record that is neither."""
    if "lineage" in record and "dataset" in record:
        prompt = SanitizedPrompt.model_validate(record)
        return DryRunPrompt(prompt.id, topic_of(prompt.item_fields), prompt.messages,
                            prompt.tools, item_from_prompt(prompt))
    if not isinstance(record.get("messages"), list) or not record["messages"]:
        raise ValueError("no messages")
    messages = [Message.model_validate(m) for m in record["messages"]]
    tools = [ToolSpec.model_validate(t) for t in record.get("tools") or []] or None
    given = record.get("id")
    prompt_id = given if isinstance(given, str) and given else _content_id(messages, tools)
    item = dict(record)
    item.setdefault("tools", [])  # a row omits tools when the agent has none; the item lists none
    return DryRunPrompt(prompt_id, topic_of(record), messages, tools, item)


def load_prompts(path: Path) -> tuple[list[DryRunPrompt], list[BadLine]]:
    """Every prompt of a JSONL file; a line that is not one is a BadLine, never an exception."""
    prompts: list[DryRunPrompt] = []
    bad: list[BadLine] = []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                prompts.append(parse_prompt(record))
            except (ValueError, ValidationError, RecursionError) as error:
                bad.append(BadLine(number, str(error).splitlines()[0][:200]))
    return prompts, bad


def stratified_sample(prompts: list[DryRunPrompt], n: int, seed: int = 0) -> list[DryRunPrompt]:
    """N prompts, each topic's share as in the split (largest remainders, every topic at least
    one while N allows), drawn at random but reproducibly; all of them when N covers the split."""
    unique = list({p.id: p for p in prompts}.values())
    if n >= len(unique):
        return unique
    by_topic: dict[str, list[DryRunPrompt]] = defaultdict(list)
    for prompt in unique:
        by_topic[prompt.topic].append(prompt)
    topics = sorted(by_topic, key=lambda t: (-len(by_topic[t]), t))
    quotas = {t: n * len(by_topic[t]) / len(unique) for t in topics}
    counts = {t: int(quotas[t]) for t in topics}
    for topic in sorted(topics, key=lambda t: -(quotas[t] - counts[t])):
        if sum(counts.values()) >= n:
            break
        counts[topic] += 1
    # A small topic rounded to zero still gets one prompt, taken from the largest topics.
    for topic in reversed(topics):
        if counts[topic] == 0 and any(counts[t] > 1 for t in topics):
            donor = max(topics, key=lambda t: counts[t])
            counts[donor] -= 1
            counts[topic] = 1
    rng = random.Random(seed)
    chosen: list[DryRunPrompt] = []
    for topic in topics:
        group = sorted(by_topic[topic], key=lambda p: p.id)
        chosen.extend(rng.sample(group, counts[topic]))
    return chosen
