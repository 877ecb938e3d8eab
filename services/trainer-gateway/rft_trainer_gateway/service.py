"""Assembles the trainer gateway: the job store, the supervisor of training processes, the HTTP
API, the journeys it drives (F to J through the other services' APIs), and (with a broker) the
producer of ``rft.training.events.v1`` and, where a backend's pods publish their own events, the
consumer that writes those into their jobs' logs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry

from rft_runtime.http.app import ReadinessCheck
from rft_runtime.http.auth import auth_headers
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.shell import ServiceShell
from rft_schemas import TrainingBackendName, TrainingEvent
from rft_trainer_gateway.api import build_budget_router, build_router
from rft_trainer_gateway.backends.base import TrainingBackend
from rft_trainer_gateway.backends.local import LocalTrlBackend
from rft_trainer_gateway.event_sink import append_to_job_log, training_events_stage
from rft_trainer_gateway.journey import JourneyRunner
from rft_trainer_gateway.journey_api import build_journey_router
from rft_trainer_gateway.journey_services import JourneyServices, ServiceClient
from rft_trainer_gateway.journey_store import JourneyStore
from rft_trainer_gateway.settings import TrainerSettings
from rft_trainer_gateway.store import JobStore
from rft_trainer_gateway.supervisor import (
    SELF_PUBLISHING,
    JobSupervisor,
    Publish,
    SupervisorMetrics,
)


def build_backends(settings: TrainerSettings) -> dict[TrainingBackendName, TrainingBackend]:
    backends: dict[TrainingBackendName, TrainingBackend] = {}
    for name in {settings.trainer_backend, *settings.trainer_backends}:
        if name is TrainingBackendName.TRL:
            backends[name] = LocalTrlBackend(module=settings.trainer_worker_module)
        else:
            # Imported only where enabled: it needs the kubernetes client and a cluster.
            from rft_trainer_gateway.backends.kubernetes import KubernetesBackend

            backends[name] = KubernetesBackend()
    return backends


def self_published_events_sink(store: JobStore,
                               jobs_dir: Path) -> Callable[[TrainingEvent], bool]:
    """Where the topic's events of jobs that publish their own (a pod's) go: into the job's
    event log, which the supervisor follows as it follows a local process's. Events of other
    jobs are the gateway's own publications: dropped."""
    append = append_to_job_log(jobs_dir)

    def deliver(event: TrainingEvent) -> bool:
        job = store.get(event.job_id)
        return job is not None and job.backend in SELF_PUBLISHING and append(event)

    return deliver


def store_ready(store: JobStore) -> ReadinessCheck:
    async def check() -> str | None:
        await asyncio.to_thread(store.sql.query, "SELECT 1")
        return None

    return check


def journey_services(settings: TrainerSettings) -> JourneyServices:
    timeout = settings.trainer_service_timeout_s
    headers = auth_headers(settings.api_token)  # a service beyond loopback asks for the token
    return JourneyServices(
        ServiceClient("generator", "RFT_TRAINER_GENERATOR_URL", settings.trainer_generator_url,
                      timeout, headers),
        ServiceClient("grader", "RFT_TRAINER_GRADER_URL", settings.trainer_grader_url, timeout,
                      headers))


def build_service(
    settings: TrainerSettings | None = None,
    backends: dict[TrainingBackendName, TrainingBackend] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> tuple[FastAPI, list[KafkaStage[Any]], TrainerSettings]:
    settings = settings or TrainerSettings(service_name="trainer-gateway")
    store = JobStore(settings.resolved_job_store())
    shell = ServiceShell(settings, "rft trainer gateway")
    shell.ready_when("job_store", store_ready(store))
    publish: Publish | None = shell.publisher() if settings.trainer_publish_events else None
    supervisor = JobSupervisor(store, settings, backends or build_backends(settings), publish,
                               SupervisorMetrics(registry))
    shell.manage(supervisor)  # after the producer: re-attaching may publish
    journeys = JourneyRunner(JourneyStore(store.sql), journey_services(settings), supervisor,
                             settings.trainer_journey_poll_s)
    shell.manage(journeys)  # after the supervisor: a resumed journey re-attaches to its jobs
    if shell.streaming and SELF_PUBLISHING & set(supervisor.backends):
        shell.consume(training_events_stage(
            settings, self_published_events_sink(store, supervisor.jobs_dir), registry=registry))
    app = shell.app(build_router(supervisor), build_budget_router(), build_journey_router(journeys),
                    registry=registry)
    app.state.supervisor = supervisor
    app.state.journeys = journeys
    return app, shell.stages, settings
