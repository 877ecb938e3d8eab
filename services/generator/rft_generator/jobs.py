"""Runs generation jobs in the background of the service, and resumes unfinished ones on start.

A job is created in the durable store before anything else happens (the HTTP answer and the
Kafka offset commit both wait for it), then run as a task. When the service stops, running
tasks are cancelled and their jobs stay ``running`` in the store: the next start resumes them
from their last recorded round. A failed job (LLM endpoint down) is resumed by
``POST /v1/generation-jobs/{id}/resume``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rft_generator.batch import run_generation
from rft_generator.job_store import JobStore
from rft_generator.pool import recommended_targets
from rft_generator.runner import Publish
from rft_generator.settings import GeneratorSettings
from rft_generator.sources import (
    COVERAGE_FILE,
    CategorizedSource,
    CategorizerUnavailable,
    DatasetNotReady,
    source_for,
    topic_checker_for,
)
from rft_runtime.embedding.model import Embedder
from rft_runtime.llm import LLMSettings
from rft_runtime.vectorstore import VectorStore
from rft_schemas import CategorizedPrompt, GenerationJob, GenerationRequest, JobStatus
from rft_schemas.artifacts import SYNTHETIC_PROMPTS

__all__ = ["COVERAGE_FILE", "CategorizerUnavailable", "DatasetNotReady", "JobScheduler"]

log = logging.getLogger(__name__)


class JobScheduler:
    def __init__(
        self,
        store: JobStore,
        vector_store: Callable[[], VectorStore],
        llm: Callable[[], LLMSettings],
        settings: GeneratorSettings,
        publish: Publish | None = None,
        source: CategorizedSource | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """``source``: where jobs read their dataset; default per ``settings`` (the
        categorizer's API when its URL is set, else the files under data_dir). ``embedder``:
        the vectors of a job's examples and candidates (the service passes its own); a
        scheduler without one stores and plans jobs, and a job it runs fails saying so."""
        self.store = store
        self.source = source or source_for(settings)
        self._vector_store = vector_store
        self._llm = llm
        self.settings = settings
        self.publish = publish
        self.embedder = embedder
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _categorized(self, dataset: str) -> list[CategorizedPrompt]:
        return self.source.categorized(dataset)

    def _targets(self, request: GenerationRequest) -> dict[str, int]:
        """The request's targets, else coverage's recommendation for the dataset's gaps (capped
        per topic by ``max_new_per_topic``)."""
        if request.targets is not None:
            return dict(request.targets)
        try:
            report = self.source.coverage(request.dataset)
        except DatasetNotReady as error:
            raise DatasetNotReady(f"no targets given and {error}") from None
        return recommended_targets(report, self.settings.max_new_per_topic)

    async def submit(self, request: GenerationRequest) -> GenerationJob:
        """Store the job durably (idempotent by id) and start it; answers its current state.

        Raises :class:`DatasetNotReady` (the dataset is not categorized yet) before anything is
        stored, and :class:`CategorizerUnavailable` while the categorizer cannot answer."""
        # refuse early: the dataset must be there (a blocking read: a file, or an HTTP call)
        await asyncio.to_thread(self.source.require, request.dataset)
        targets = await asyncio.to_thread(self._targets, request)
        job = await asyncio.to_thread(self.store.create, request, targets)
        if job.status is not JobStatus.SUCCEEDED:
            self._start(request.id)
        return job

    def resume(self, job_id: str) -> bool:
        job = self.store.get(job_id)
        if job is None:
            return False
        if job.status is not JobStatus.SUCCEEDED:
            self._start(job_id)
        return True

    def resume_unfinished(self) -> list[str]:
        ids = self.store.job_ids([JobStatus.QUEUED, JobStatus.RUNNING])
        for job_id in ids:
            self._start(job_id)
        return ids

    def _start(self, job_id: str) -> None:
        running = self._tasks.get(job_id)
        if running is not None and not running.done():
            return
        self._tasks[job_id] = asyncio.create_task(self._run(job_id), name=f"generation-{job_id}")

    async def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        assert job is not None
        request = job.request.model_copy(update={"targets": {t.topic: t.target
                                                             for t in job.topics}})
        try:
            if self.embedder is None:
                raise RuntimeError("this job scheduler was given no embedder")
            categorized = await asyncio.to_thread(self._categorized, request.dataset)
            await run_generation(
                request, categorized, self.store, self._vector_store(), self._llm(),
                self.settings, embedder=self.embedder, publish=self.publish,
                # step C's decision, asked of the categorizer when the job reads from it
                checker=topic_checker_for(self.source, request.dataset),
                output=SYNTHETIC_PROMPTS.path(self.settings.resolved_output_dir() / job_id),
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a job must never take the service down: record it
            log.exception("generation job crashed", extra={"job": job_id})
            self.store.set_status(job_id, JobStatus.FAILED, error=f"{type(error).__name__}: "
                                  f"{error}")

    async def wait(self, job_id: str) -> None:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)

    async def start(self) -> None:
        resumed = self.resume_unfinished()
        if resumed:
            log.info("resuming generation jobs", extra={"jobs": resumed})

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
