"""The grader as a TRL reward function: ``(prompts, completions, **columns) -> list[float]``.

TRL passes each dataset column as a list aligned with the completions; those columns are the
item. A completion is text, or (conversational datasets) a list of assistant messages whose
tool calls become ``sample.output_tools``. Error flags give 0, as in the dry run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rft_grader.graders.base import BaseGrader, grade_many
from rft_grader.sample import Sample
from rft_schemas import ToolCall

RewardFunction = Callable[..., list[float]]


def sample_from_completion(completion: Any) -> Sample:
    if isinstance(completion, str):
        return Sample(completion)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for message in completion or []:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        calls.extend(ToolCall.model_validate(c) for c in message.get("tool_calls") or [])
    return Sample("\n".join(texts), calls)


def reward_function(grader: BaseGrader, *, concurrency: int = 16) -> RewardFunction:
    async def score_all(completions: list[Any], columns: dict[str, list[Any]]) -> list[float]:
        pairs = [(sample_from_completion(c), {k: v[i] for k, v in columns.items()})
                 for i, c in enumerate(completions)]
        results = await grade_many(grader, pairs, concurrency=concurrency)
        return [r.reward for r in results]

    def reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        lists = {k: v for k, v in columns.items()
                 if isinstance(v, list) and len(v) == len(completions)}
        return asyncio.run(score_all(completions, lists))

    reward.__name__ = grader.name  # TRL logs each reward function under its name
    return reward
