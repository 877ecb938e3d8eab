"""Items built from real traces: drone_training.jsonl, each record cut at its last user turn,
with what followed (the unanswered tool call) as the reference continuation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rft_grader.sample import item_from_prompt
from rft_schemas import Conversation, Lineage, SanitizedPrompt, SourceLocation, TraceFormat
from tests.grader.sandbox_kernel import sandbox_kernel  # noqa: F401 - REQUIRES_SANDBOX_KERNEL's

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


def prompt_from_record(record: dict[str, Any], line: int) -> SanitizedPrompt:
    conversation = Conversation.model_validate(record)
    last_user = max(i for i, m in enumerate(conversation.messages) if m.role == "user")
    return SanitizedPrompt(
        id=f"drone-{line}", dataset="drone",
        messages=conversation.messages[: last_user + 1],
        reference=conversation.messages[last_user + 1 :],
        tools=conversation.tools, item_fields=conversation.item_fields(),
        lineage=Lineage(dataset="drone", trace_id=f"drone-{line}", format=TraceFormat.OPENAI_CHAT,
                        source=SourceLocation(uri="drone_training.jsonl", line=line)),
    )


@pytest.fixture(scope="session")
def drone_prompts() -> list[SanitizedPrompt]:
    lines = (DATA / "drone_training.jsonl").read_text().splitlines()
    return [prompt_from_record(json.loads(text), n) for n, text in enumerate(lines, 1) if text]


@pytest.fixture(scope="session")
def drone_items(drone_prompts: list[SanitizedPrompt]) -> list[dict[str, Any]]:
    return [item_from_prompt(p) for p in drone_prompts]
