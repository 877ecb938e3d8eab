"""A verifiable slice of real traces for training on a CPU: the drone cookbook's tool-calling
prompts (examples/data/drone_training.jsonl, each ending on the call the agent made, kept as
the reference), sanitized by step A.

Each prompt offers the agent's 16 tools, about 1,160 tokens once rendered: one forward pass of
that on 2 CPU cores costs more than a whole GRPO step on a 200-token prompt. The slice keeps the
reference call's tool and ``distractors`` others drawn per prompt (seeded), so the task stays
"pick the right tool and arguments among several" at a length a CPU can train on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from rft_schemas.grader_item import grader_item
from rft_schemas.traces import SanitizedPrompt


def slice_row(prompt: SanitizedPrompt, distractors: int, rng: random.Random) -> dict[str, Any]:
    wanted = {call.function.name for message in prompt.reference
              for call in message.tool_calls or []}
    tools = list(prompt.tools or [])
    keep = [t for t in tools if t.function.name in wanted]
    others = [t for t in tools if t.function.name not in wanted]
    keep += rng.sample(others, min(distractors, len(others)))
    rng.shuffle(keep)
    trimmed = prompt.model_copy(update={"tools": keep})
    row = {"id": prompt.id, **grader_item(trimmed)}
    row["topic"] = sorted(wanted)[0] if wanted else "no_call"
    return row


def verifiable_slice(sanitized: Path, distractors: int = 3, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    with sanitized.open() as lines:
        for line in lines:
            prompt = SanitizedPrompt.model_validate_json(line)
            if prompt.tools and any(m.tool_calls for m in prompt.reference):
                rows.append(slice_row(prompt, distractors, rng))
    return rows


def write_rows(rows: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path
