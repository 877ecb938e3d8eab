"""What the LLM judges and the cosine metric need from the outside, as protocols.

The real adapters (the runtime's OpenAI-compatible client, the embedder service) satisfy
these; :class:`FixedAnswerJudge` is a complete in-process judge that answers from a script,
for previews without a model, tests and benchmarks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from rft_schemas.grader import SamplingParams


@dataclass(frozen=True)
class JudgeReply:
    text: str
    refusal: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class JudgeClient(Protocol):
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        response_format: dict[str, Any] | None,
        sampling: SamplingParams | None,
    ) -> JudgeReply: ...


@runtime_checkable
class Embedder(Protocol):
    def encode(self, texts: list[str]) -> list[list[float]]: ...


Answer = str | JudgeReply | BaseException


@dataclass
class FixedAnswerJudge:
    """Answers each call with the next scripted answer (cycling), or from a function of the
    rendered messages. An exception in the script is raised, as a judge that is down would."""

    answers: Sequence[Answer] | Callable[[list[dict[str, Any]]], Answer]
    delay_s: float = 0.0
    calls: list[list[dict[str, Any]]] = field(default_factory=list)

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str,
        response_format: dict[str, Any] | None,
        sampling: SamplingParams | None,
    ) -> JudgeReply:
        index = len(self.calls)
        self.calls.append(messages)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if callable(self.answers):
            answer = self.answers(messages)
        else:
            answer = self.answers[index % len(self.answers)]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, JudgeReply):
            return answer
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return JudgeReply(text=answer, prompt_tokens=prompt_tokens,
                          completion_tokens=len(answer.split()))
