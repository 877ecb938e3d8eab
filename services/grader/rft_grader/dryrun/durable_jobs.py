"""Dry runs as durable jobs: submitted over HTTP, carried out by grader workers over Kafka
(or in this process when there is no broker), finished when every rollout has its score.

Progress lives in the :class:`~rft_grader.jobs.JobStore`, never in memory: a restarted
service re-publishes only a job whose requests were not all published, and re-runs (without
a broker) only the requests that have no score yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from rft_grader.dryrun.core import job_id_for, write_outputs
from rft_grader.dryrun.diagnosis import Thresholds, build_report
from rft_grader.dryrun.prompts import DryRunPrompt, parse_prompt, stratified_sample
from rft_grader.dryrun.rollouts import (
    GraderCache,
    failed_score,
    grader_name,
    rollout_and_score,
    rollout_requests,
)
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.jobs import JobSpec, JobStore
from rft_grader.validation import validate_grader
from rft_runtime.kafka.producing import Outbound
from rft_runtime.llm import LLMClient, LLMError
from rft_schemas.grader import ValidationIssue
from rft_schemas.kafka_topics import ROLLOUT_REQUESTS
from rft_schemas.rollouts import DryRunJob, DryRunRequest, RolloutRequest, Score

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Outbound]], Awaitable[None]]


class DryRunRefused(ValueError):
    """The request cannot become a job: an invalid grader, or no usable prompt."""

    def __init__(self, message: str, issues: list[ValidationIssue]) -> None:
        super().__init__(message)
        self.issues = issues


def parse_request_prompts(request: DryRunRequest) -> list[DryRunPrompt]:
    prompts: list[DryRunPrompt] = []
    issues: list[ValidationIssue] = []
    for index, record in enumerate(request.prompts):
        try:
            prompts.append(parse_prompt(record))
        except ValueError as error:
            issues.append(ValidationIssue(path=f"$.prompts[{index}]", code="invalid_prompt",
                                          message=str(error).splitlines()[0][:300]))
    if not prompts:
        raise DryRunRefused("no usable prompt", issues or [ValidationIssue(
            path="$.prompts", code="invalid_prompt", message="no prompts")])
    return prompts


class DryRunJobs:
    def __init__(self, store: JobStore, settings: DryRunSettings, client: LLMClient,
                 graders: GraderCache, publish: Publish | None, out_root: Path) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.graders = graders
        self.publish = publish
        self.out_root = out_root
        self._tasks: set[asyncio.Task[None]] = set()
        self._finishing = asyncio.Lock()

    async def submit(self, request: DryRunRequest) -> DryRunJob:
        issues = validate_grader(request.grader)
        if issues:
            raise DryRunRefused("invalid grader", issues)
        prompts = parse_request_prompts(request)
        size = self.settings.size(self.client.settings)  # what the request leaves unset
        chosen = stratified_sample(prompts, request.prompt_count or size.prompts, request.seed)
        model = request.model or self.client.model
        max_tokens = request.max_tokens or size.max_tokens
        temperature = (self.settings.dryrun_temperature if request.temperature is None
                       else request.temperature)
        tool_choice = request.tool_choice or self.settings.dryrun_tool_choice
        settings = self.settings.model_copy(update={
            "dryrun_max_tokens": max_tokens, "dryrun_temperature": temperature,
            "dryrun_seed": request.seed, "dryrun_tool_choice": tool_choice})
        job_id = job_id_for(request.dataset, chosen, request.grader,
                            request.samples_per_prompt, model, settings)
        requests = rollout_requests(job_id, chosen, k=request.samples_per_prompt, model=model,
                                    grader=request.grader, max_tokens=max_tokens,
                                    temperature=temperature, seed=request.seed,
                                    tool_choice=tool_choice)
        spec = JobSpec(dataset=request.dataset, model=model,
                       grader_name=grader_name(request.grader),
                       samples_per_prompt=request.samples_per_prompt,
                       histogram_bins=self.settings.dryrun_histogram_bins,
                       max_flat_share=self.settings.dryrun_max_flat_share,
                       max_error_share=self.settings.dryrun_max_error_share)
        if await asyncio.to_thread(self.store.create, job_id, spec, requests):
            await self._start(job_id, requests)
        elif self.publish is not None and not await asyncio.to_thread(self.store.published,
                                                                      job_id):
            # Asked again after publishing failed half-way (broker down): publish what is left.
            await self._start(job_id, await asyncio.to_thread(self.store.pending, job_id))
        job = await asyncio.to_thread(self.store.get, job_id)
        assert job is not None
        return job

    async def _start(self, job_id: str, requests: list[RolloutRequest]) -> None:
        if self.publish is not None:
            await self.publish([Outbound(ROLLOUT_REQUESTS.name, r.id, r) for r in requests])
            await asyncio.to_thread(self.store.mark_published, job_id)
        else:
            task = asyncio.create_task(self._run_here(requests), name=f"dry-run {job_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_here(self, requests: list[RolloutRequest]) -> None:
        limit = asyncio.Semaphore(self.settings.size(self.client.settings).concurrency)

        async def one(request: RolloutRequest) -> None:
            async with limit:
                try:
                    score = await rollout_and_score(self.client, self.graders, request)
                except LLMError as error:
                    score = failed_score(request, str(error))
            await self.on_scores([score])

        await asyncio.gather(*(one(r) for r in requests))

    async def on_scores(self, scores: Sequence[Score]) -> None:
        """Record scores (once per rollout id) and finish the jobs that are now complete."""
        touched = await asyncio.to_thread(self.store.record, scores)
        for job_id in sorted(touched):
            await self.finish_if_complete(job_id)

    async def finish_if_complete(self, job_id: str) -> None:
        async with self._finishing:
            job = await asyncio.to_thread(self.store.get, job_id)
            if job is None or job.report is not None or job.done < job.total:
                return
            spec = await asyncio.to_thread(self.store.spec, job_id)
            scores = await asyncio.to_thread(self.store.scores, job_id)
            assert spec is not None
            report = build_report(
                job_id=job_id, dataset=spec.dataset, model=spec.model,
                grader_name=spec.grader_name, samples_per_prompt=spec.samples_per_prompt,
                scores=scores, bins=spec.histogram_bins,
                thresholds=Thresholds(spec.max_flat_share, spec.max_error_share))
            await asyncio.to_thread(write_outputs, report, self.out_root / job_id)
            await asyncio.to_thread(self.store.finish, job_id, report)
            log.info("dry run finished", extra={"job": job_id, "verdict": report.verdict.value})

    async def start(self) -> None:
        """Resume what a previous run of the service left unfinished."""
        for job_id, published in await asyncio.to_thread(self.store.unfinished):
            await self.finish_if_complete(job_id)
            if self.publish is not None and published:
                continue  # the requests are on the topic: the workers' offsets resume them
            pending = await asyncio.to_thread(self.store.pending, job_id)
            log.info("resuming dry run", extra={"job": job_id, "pending": len(pending)})
            if pending:
                await self._start(job_id, pending)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.graders.close()
