"""Assembles the grader service: HTTP API, dry-run jobs, and (with a broker) the worker and
job stages. One process can be the whole service or, scaled out, one more worker replica."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rft_grader.api import build_router
from rft_grader.dryrun.durable_jobs import DryRunJobs
from rft_grader.dryrun.rollouts import GraderCache
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.jobs import JobStore
from rft_grader.llm_judge import LLMJudge
from rft_grader.stage import build_jobs_stage, build_worker_stage
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.llm import LLMClient, LLMSettings
from rft_runtime.shell import ServiceShell


def build_service(
    settings: DryRunSettings | None = None, llm: LLMSettings | None = None
) -> tuple[FastAPI, list[KafkaStage[Any]], DryRunSettings]:
    """``llm.base_url`` must point at a live endpoint (``python -m rft_grader`` starts the
    local model when ``RFT_LLM_BASE_URL`` is unset)."""
    settings = settings or DryRunSettings(service_name="grader")
    client = LLMClient(llm or LLMSettings())
    judge = LLMJudge(client, model=settings.grader_judge_model,
                     max_tokens=settings.grader_judge_max_tokens)
    store = JobStore(settings.resolved_dryrun_job_store())
    graders = GraderCache(judge=judge, settings=settings)

    shell = ServiceShell(settings, "rft grader")
    shell.manage(client)
    publish = shell.publisher()  # rollout requests to the workers
    jobs = DryRunJobs(store, settings, client, graders, publish,
                      settings.data_dir / "grader" / "dry-runs")
    if shell.streaming:
        shell.consume(build_worker_stage(settings, client, graders, store),
                      build_jobs_stage(settings, jobs))
    shell.manage(jobs)  # after the producer: resuming may publish
    app = shell.app(build_router(jobs, judge, settings))
    return app, shell.stages, settings
