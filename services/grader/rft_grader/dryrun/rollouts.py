"""Rollout requests with stable ids, one rollout through the LLM client, and its score.

The dry run's three drivers, ``core.run_dry_run`` (one process: `rft dryrun`, `rft run`), the
grader's Kafka stage (streaming workers) and ``durable_jobs.DryRunJobs`` (the service's jobs,
in its process when there is no broker), all call
:func:`rollout_and_score`, so a dry run scores the same whichever path ran it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from rft_grader.build import build_grader
from rft_grader.dryrun.prompts import DryRunPrompt
from rft_grader.graders.base import BaseGrader
from rft_grader.judging import Embedder, JudgeClient
from rft_grader.sample import Sample
from rft_grader.settings import GraderSettings
from rft_runtime.llm import LLMClient
from rft_schemas.grader import GraderConfig
from rft_schemas.rollouts import Rollout, RolloutRequest, Score


def rollout_id(job_id: str, prompt_id: str, sample_index: int) -> str:
    return f"{job_id}:{prompt_id}:{sample_index}"


def rollout_seed(base_seed: int, rollout: str) -> int:
    """Each rollout's own seed: a retried or re-delivered request samples the same answer."""
    digest = hashlib.sha256(f"{base_seed}|{rollout}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def grader_name(grader: dict[str, Any]) -> str:
    inner = grader.get("grader", grader)
    return str(inner.get("name", "grader")) if isinstance(inner, dict) else "grader"


def rollout_requests(job_id: str, prompts: list[DryRunPrompt], *, k: int, model: str,
                     grader: dict[str, Any], max_tokens: int | None, temperature: float | None,
                     seed: int, tool_choice: str = "auto") -> list[RolloutRequest]:
    requests = []
    for prompt in prompts:
        topic_path = [] if prompt.topic == "all" else prompt.topic.split("/")
        for index in range(k):
            rid = rollout_id(job_id, prompt.id, index)
            requests.append(RolloutRequest(
                id=rid, job_id=job_id, prompt_id=prompt.id, topic_path=topic_path,
                messages=prompt.messages, tools=prompt.tools, item=prompt.item,
                sample_index=index, model=model, grader=grader, max_tokens=max_tokens,
                temperature=temperature, seed=rollout_seed(seed, rid),
                tool_choice=None if tool_choice == "auto" or not prompt.tools else tool_choice))
    return requests


async def roll_out(client: LLMClient, request: RolloutRequest) -> Rollout:
    """One sample of the base model; LLM errors propagate (the caller decides retry or count)."""
    forced = {"tool_choice": request.tool_choice} if request.tool_choice else {}
    response = await client.complete(
        request.messages, tools=request.tools, n=1, model=request.model,
        max_tokens=request.max_tokens, temperature=request.temperature, seed=request.seed,
        **forced)
    choice = response.choices[0]
    usage = response.usage
    return Rollout(
        id=request.id, request=request, output_text=choice.message.content or "",
        output_tools=list(choice.message.tool_calls or []), finish_reason=choice.finish_reason,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0)


def failed_score(request: RolloutRequest, error: str) -> Score:
    return Score(rollout_id=request.id, job_id=request.job_id, prompt_id=request.prompt_id,
                 topic_path=request.topic_path, sample_index=request.sample_index, reward=0.0,
                 rollout_error=error[:1000])


async def score_rollout(grader: BaseGrader, rollout: Rollout) -> Score:
    request = rollout.request
    began = time.perf_counter()
    result = await grader(Sample.from_rollout(rollout), request.item)
    return Score(
        rollout_id=rollout.id, job_id=request.job_id, prompt_id=request.prompt_id,
        topic_path=request.topic_path, sample_index=request.sample_index, reward=result.reward,
        sub_rewards=result.sub_rewards, errors={k: v for k, v in result.errors.flags().items()
                                                if v},
        output_text=rollout.output_text, output_tools=rollout.output_tools,
        completion_tokens=rollout.completion_tokens,
        grading_seconds=time.perf_counter() - began)


class GraderCache:
    """Built graders by config: requests of one job share one grader (and its sandbox)."""

    def __init__(self, *, judge: JudgeClient | None = None, embedder: Embedder | None = None,
                 settings: GraderSettings | None = None) -> None:
        self.judge = judge
        self.embedder = embedder
        self.settings = settings or GraderSettings()
        self._graders: dict[str, BaseGrader] = {}

    def get(self, config: dict[str, Any]) -> BaseGrader:
        key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
        if key not in self._graders:
            grader_json = config if "grader" in config and "type" not in config else {
                "grader": config}
            self._graders[key] = build_grader(GraderConfig.model_validate(grader_json),
                                              judge=self.judge, embedder=self.embedder,
                                              settings=self.settings)
        return self._graders[key]

    def close(self) -> None:
        for grader in self._graders.values():
            grader.close()
        self._graders.clear()


async def rollout_and_score(client: LLMClient, graders: GraderCache,
                            request: RolloutRequest) -> Score:
    """Raises the LLM client's errors; the grader never raises (its failures are flags)."""
    rollout = await roll_out(client, request)
    return await score_rollout(graders.get(request.grader), rollout)
