"""Assembles the grader service: HTTP API, dry-run jobs, and (with a broker) the worker and
job stages. One process can be the whole service or, scaled out, one more worker replica."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from rft_grader.api import build_router
from rft_grader.dryrun.durable_jobs import DryRunJobs, Publish
from rft_grader.dryrun.rollouts import GraderCache
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.jobs import JobStore
from rft_grader.llm_judge import LLMJudge
from rft_grader.stage import build_jobs_stage, build_worker_stage
from rft_runtime.http.app import (
    Managed,
    ReadinessCheck,
    create_app,
    stages_consuming,
    tcp_reachable,
)
from rft_runtime.kafka.producing import ManagedProducer
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.llm import LLMClient, LLMSettings


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

    stages: list[KafkaStage[Any]] = []
    readiness: dict[str, ReadinessCheck] = {}
    managed: list[Managed] = [client]
    publish: Publish | None = None
    if settings.kafka_bootstrap:
        producer = ManagedProducer(settings)
        managed.append(producer)
        publish = producer.send_all
        readiness["kafka"] = tcp_reachable(settings.kafka_bootstrap)
    jobs = DryRunJobs(store, settings, client, graders, publish,
                      settings.data_dir / "grader" / "dry-runs")
    if settings.kafka_bootstrap:
        stages = [build_worker_stage(settings, client, graders, store),
                  build_jobs_stage(settings, jobs)]
        readiness["stages"] = stages_consuming(stages)
    managed.append(jobs)  # after the producer: resuming may publish
    app = create_app(settings, title="rft grader", readiness=readiness, managed=managed)
    app.include_router(build_router(jobs, judge, settings))
    return app, stages, settings
