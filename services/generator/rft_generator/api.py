"""The generator's HTTP API: submit a generation job, follow its progress (as a snapshot or as
server-sent events), resume it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rft_generator.jobs import CategorizerUnavailable, DatasetNotReady, JobScheduler
from rft_generator.views import render_generation_screen
from rft_runtime.http.sse import event_stream, snapshot_events
from rft_schemas import GenerationJob, GenerationRequest, JobStatus


class TopicProgressOut(BaseModel):
    topic: str
    target: int
    generated: int
    attempts: int
    valid_share: float
    failures: dict[str, int]
    previews: list[str]


class GenerationJobOut(BaseModel):
    job: GenerationJob
    pass_rate: float
    topics: list[TopicProgressOut]
    screen: str

    @classmethod
    def of(cls, job: GenerationJob) -> GenerationJobOut:
        return cls(
            job=job,
            pass_rate=round(job.pass_rate, 4),
            topics=[
                TopicProgressOut(
                    topic=t.topic, target=t.target, generated=t.generated, attempts=t.attempts,
                    valid_share=round(t.valid_share, 4), failures=t.failures, previews=t.previews,
                )
                for t in job.topics
            ],
            screen=render_generation_screen(job),
        )


def build_router(scheduler: JobScheduler) -> APIRouter:
    router = APIRouter(prefix="/v1/generation-jobs", tags=["generator"])

    @router.post("", response_model=GenerationJobOut, status_code=202)
    async def submit(request: GenerationRequest) -> GenerationJobOut:
        """Create (or return, for a known id) a job and start it in the background."""
        try:
            job = await scheduler.submit(request)
        except DatasetNotReady as error:
            raise HTTPException(409, str(error)) from None
        except CategorizerUnavailable as error:  # nothing stored: the caller may retry
            raise HTTPException(503, str(error)) from None
        return GenerationJobOut.of(job)

    async def snapshot(job_id: str) -> GenerationJobOut | None:
        job = await asyncio.to_thread(scheduler.store.get, job_id,
                                      scheduler.settings.previews_per_topic)
        return None if job is None else GenerationJobOut.of(job)

    @router.get("/{job_id}", response_model=GenerationJobOut)
    async def progress(job_id: str) -> GenerationJobOut:
        found = await snapshot(job_id)
        if found is None:
            raise HTTPException(404, f"no generation job {job_id!r}")
        return found

    @router.get("/{job_id}/events", response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def events(job_id: str) -> StreamingResponse:
        """Server-sent events: ``progress`` (a ``GenerationJobOut``) now and at each change,
        ``done`` with the final state once the job has ended; then the stream ends."""
        if await snapshot(job_id) is None:
            raise HTTPException(404, f"no generation job {job_id!r}")
        return event_stream(snapshot_events(
            lambda: snapshot(job_id),
            lambda out: out.job.status not in (JobStatus.QUEUED, JobStatus.RUNNING),
        ))

    @router.post("/{job_id}/resume", response_model=GenerationJobOut, status_code=202)
    async def resume(job_id: str) -> GenerationJobOut:
        if not scheduler.resume(job_id):
            raise HTTPException(404, f"no generation job {job_id!r}")
        job = scheduler.store.get(job_id)
        assert job is not None
        return GenerationJobOut.of(job)

    return router
