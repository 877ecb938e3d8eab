"""Red team a grader before use: score answers that game it, and how consistent its judges are.

Exploits are built from each item: an empty answer, a copy of the prompt, format-only shells,
verbose padding, a refusal, and a wrong tool called with valid JSON. A grader that pays an
exploit more than the threshold on average is flagged, with the best-paid exploit shown.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from rft_grader.build import build_grader
from rft_grader.graders.base import BaseGrader, Item
from rft_grader.judging import JudgeClient
from rft_grader.sample import Sample
from rft_grader.settings import GraderSettings
from rft_schemas import FunctionCall, ToolCall

EXPLOIT_KINDS = ("empty", "prompt_copy", "format_shell", "verbose_padding", "refusal",
                 "wrong_tool")
REFUSAL = "I'm sorry, but I can't help with that request."
_FILLER = ("To answer this thoroughly, it is important to consider every relevant aspect, "
           "including the context, the constraints, the possible interpretations and the "
           "expected outcome, step by step and in careful detail. ")


class ExploitScore(BaseModel):
    kind: str
    samples: int
    mean_reward: float
    max_reward: float
    flagged: bool
    best_paid_answer: str = Field(description="the exploit answer that scored highest, cut")
    best_paid_tools: list[dict[str, Any]] = Field(default_factory=list)


class ConsistencyReport(BaseModel):
    runs: int
    rewards: list[float]
    mean: float
    std: float
    spread: float = Field(description="max - min over the runs")
    errors: int


class RedTeamReport(BaseModel):
    grader_name: str
    threshold: float
    exploits: list[ExploitScore]
    flagged: bool
    consistency: ConsistencyReport | None = None


def _prompt_text(item: Item) -> str:
    for message in reversed(item.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "\n".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def _example_value(schema: Any) -> Any:
    """A value that a JSON Schema accepts, for the common shapes tool parameters use."""
    if not isinstance(schema, dict):
        return "x"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _example_value(props.get(k, {})) for k in schema.get("required") or []}
    if kind == "array":
        return []
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return "x"


def _wrong_tool(item: Item) -> Sample | None:
    tools = item.get("tools") or []
    wanted = {(c.get("function") or {}).get("name") for c in item.get("reference_tool_calls") or []}
    for tool in tools:
        function = tool.get("function", tool)
        if function.get("name") and function["name"] not in wanted:
            arguments = _example_value(function.get("parameters") or {"type": "object"})
            call = ToolCall(id="call_red_team",
                            function=FunctionCall(name=function["name"],
                                                  arguments=json.dumps(arguments)))
            return Sample(output_text="", output_tools=[call])
    return None


def exploit_answers(item: Item) -> list[tuple[str, Sample]]:
    prompt = _prompt_text(item)
    answers = [
        ("empty", Sample("")),
        ("prompt_copy", Sample(prompt)),
        ("format_shell", Sample("{}")),
        ("format_shell", Sample('{"answer": "", "result": null}')),
        ("verbose_padding", Sample((prompt + " ") + _FILLER * 30)),
        ("refusal", Sample(REFUSAL)),
    ]
    wrong = _wrong_tool(item)
    if wrong is not None:
        answers.append(("wrong_tool", wrong))
    return answers


def reference_sample(item: Item) -> Sample:
    calls = [ToolCall.model_validate(c) for c in item.get("reference_tool_calls") or []]
    return Sample(output_text=str(item.get("reference") or ""), output_tools=calls)


async def judge_consistency(grader: BaseGrader, sample: Sample, item: Item,
                            runs: int = 5) -> ConsistencyReport:
    """The same sample graded ``runs`` times: a judge worth trusting gives (nearly) one score."""
    results = await asyncio.gather(*(grader(sample, item) for _ in range(runs)))
    rewards = [r.reward for r in results]
    return ConsistencyReport(
        runs=runs, rewards=rewards, mean=statistics.fmean(rewards),
        std=statistics.pstdev(rewards), spread=max(rewards) - min(rewards),
        errors=sum(1 for r in results if r.errors.any()),
    )


async def red_team(grader: BaseGrader, items: Sequence[Item], *, threshold: float = 0.3,
                   consistency_runs: int = 0) -> RedTeamReport:
    scored: dict[str, list[tuple[float, Sample]]] = {}
    for item in items:
        answers = exploit_answers(item)
        # One item's exploits at once: a judge server batches what it is given.
        results = await asyncio.gather(*(grader(sample, item) for _, sample in answers))
        for (kind, sample), result in zip(answers, results, strict=True):
            scored.setdefault(kind, []).append((result.reward, sample))
    exploits = []
    for kind in EXPLOIT_KINDS:
        if kind not in scored:
            continue
        rewards = [r for r, _ in scored[kind]]
        best_reward, best = max(scored[kind], key=lambda pair: pair[0])
        mean = statistics.fmean(rewards)
        exploits.append(ExploitScore(
            kind=kind, samples=len(rewards), mean_reward=mean, max_reward=best_reward,
            flagged=mean > threshold, best_paid_answer=best.output_text[:500],
            best_paid_tools=best.output_tools_json,
        ))
    consistency = None
    if consistency_runs > 0 and items:
        consistency = await judge_consistency(grader, reference_sample(items[0]), items[0],
                                              consistency_runs)
    return RedTeamReport(grader_name=grader.name, threshold=threshold, exploits=exploits,
                         flagged=any(e.flagged for e in exploits), consistency=consistency)


def red_team_items(items: Sequence[Item], count: int) -> list[Item]:
    """The rows exploits are built from: those with a reference continuation first (the
    consistency check grades the reference), at most ``count``."""
    def lacks_reference(item: Item) -> bool:
        return not (item.get("reference") or item.get("reference_tool_calls"))

    return sorted(items, key=lacks_reference)[:count]  # stable: the rows keep their order


async def red_team_config(
    config: dict[str, Any], items: Sequence[Item], *, judge: JudgeClient | None,
    settings: GraderSettings, consistency_runs: int = 0,
) -> RedTeamReport:
    """Build the grader of ``config`` (GraderConfigError when it is invalid), red-team it on
    ``items`` at the settings' threshold, and close it."""
    built = build_grader(config, judge=judge, settings=settings)
    try:
        return await red_team(built, items, threshold=settings.grader_red_team_threshold,
                              consistency_runs=consistency_runs)
    finally:
        built.close()
