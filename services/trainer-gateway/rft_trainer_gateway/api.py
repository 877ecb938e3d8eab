"""The trainer gateway's HTTP API, shaped after OpenAI's fine-tuning jobs.

    POST /v1/training-jobs                 validate (422 naming the field; nothing queued), queue
    GET  /v1/training-jobs                 newest first, paged by ``after`` (a job id)
    GET  /v1/training-jobs/{id}
    GET  /v1/training-jobs/{id}/events     server-sent events (``id: <seq>``, resumable with
                                           Last-Event-ID, ending with the job); ?format=json pages
    POST /v1/training-jobs/{id}/cancel     stops at the next step boundary; the last checkpoint kept
    GET  /v1/training-jobs/{id}/checkpoints
    GET  /v1/training-jobs/{id}/results    step J's comparison (409 until it is written)
    POST /v1/training-jobs/{id}/deploy     gated by the comparison unless forced with a reason
    GET  /v1/training-budget?device=cpu    the hyperparameters a job gets by default there, and why
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from rft_runtime.http.params import SQL_BIGINT_MAX
from rft_runtime.http.sse import KEEP_ALIVE_S, event_stream, sse_message
from rft_schemas import (
    CheckpointInfo,
    DeployRequest,
    DeployResult,
    EvalComparison,
    JobStatus,
    TrainingBudget,
    TrainingEvent,
    TrainingJob,
    TrainingJobRequest,
)
from rft_trainer_gateway import checkpoints
from rft_trainer_gateway.budget import default_budget
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.submission import new_job, queue_job, total_steps
from rft_trainer_gateway.supervisor import JobSupervisor
from rft_trainer_gateway.validation import FieldError

__all__ = ["build_router", "new_job", "total_steps"]


class TrainingJobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TrainingJob]
    has_more: bool


class TrainingEventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TrainingEvent]
    has_more: bool
    last_seq: int


class GateClosed(BaseModel):
    detail: str
    reasons: list[str]


def refused(errors: list[FieldError]) -> JSONResponse:
    """The runtime's 422 shape (``detail``: errors with ``loc``, ``msg``, ``type``)."""
    return JSONResponse(status_code=422, content={
        "detail": [e.model_dump(mode="json") for e in errors], "errors_total": len(errors)})


def export_dir_error(request: DeployRequest, data_dir: Path) -> FieldError | None:
    """A request must not make the gateway write wherever the gateway may write."""
    if request.export_dir is None or Path(request.export_dir).resolve().is_relative_to(
            data_dir.resolve()):
        return None
    return FieldError(loc=["body", "export_dir"], type="outside_data_dir",
                      msg=f"export_dir must be under the gateway's data dir {data_dir}")


def sse(event: TrainingEvent) -> str:
    return sse_message(event.model_dump_json(), event.kind.value, event.seq)


def build_budget_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["training"])

    @router.get("/training-budget", response_model=TrainingBudget)
    async def budget(device: Literal["cpu", "cuda"] = "cpu") -> TrainingBudget:
        """What ``hyperparameters`` to send for a job that fits ``device`` (the budget the
        journey and `rft train` use, with this gateway's ``RFT_TRAIN_*`` settings applied):
        a form starts from it."""
        chosen = default_budget(device, {})
        return TrainingBudget(device=device, hyperparameters=chosen.hyperparameters,
                              reason=chosen.reason)

    return router


def build_router(supervisor: JobSupervisor) -> APIRouter:
    router = APIRouter(prefix="/v1/training-jobs", tags=["training"])
    store, settings = supervisor.store, supervisor.settings

    async def job_or_404(job_id: str) -> TrainingJob:
        job = await asyncio.to_thread(store.get, job_id)
        if job is None:
            raise HTTPException(404, f"no training job {job_id!r}")
        return job

    def files_of(job: TrainingJob) -> JobFiles:
        files = JobFiles(Path(job.output_dir)) if job.output_dir else supervisor.files(job.id)
        if job.output_dir and not files.root.is_dir():
            raise HTTPException(409, f"the files of {job.id} ({files.root}) are not on this "
                                     f"gateway: ask the replica that runs it")
        return files

    @router.post("", response_model=TrainingJob, status_code=201,
                 responses={422: {"description": "a field is invalid; nothing was queued"}})
    async def create(request: TrainingJobRequest) -> TrainingJob | JSONResponse:
        """Validate everything (rows, grader against the rows' fields, base model, backend),
        then queue the job."""
        job, errors = await queue_job(supervisor, request)
        return refused(errors) if job is None else job

    @router.get("", response_model=TrainingJobList)
    async def list_jobs(after: str | None = None,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20) -> TrainingJobList:
        page = await asyncio.to_thread(store.page, after, limit)
        return TrainingJobList(data=page.jobs, has_more=page.has_more)

    @router.get("/{job_id}", response_model=TrainingJob)
    async def get_job(job_id: str) -> TrainingJob:
        return await job_or_404(job_id)

    @router.get("/{job_id}/events", response_model=TrainingEventList,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def events(
        job_id: str,
        format: Literal["sse", "json"] = "sse",
        after: Annotated[int, Query(ge=0, le=SQL_BIGINT_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> Any:
        """Server-sent events (``id`` is the event's seq: a client reconnecting with
        Last-Event-ID gets exactly what it missed), ending once the job has ended; with
        ``format=json``, one page of events after ``after``."""
        await job_or_404(job_id)
        if format == "json":
            found = await asyncio.to_thread(store.events, job_id, after, limit + 1)
            page = found[:limit]
            return TrainingEventList(data=page, has_more=len(found) > limit,
                                     last_seq=page[-1].seq if page else after)
        start = after
        if last_event_id is not None:
            try:
                start = max(0, int(last_event_id))
            except ValueError:
                raise HTTPException(400, "Last-Event-ID must be an event's seq") from None
            if start > SQL_BIGINT_MAX:  # past what the store's integers hold: nothing after it
                raise HTTPException(400, "Last-Event-ID is past any event's seq")
        return event_stream(stream_events(job_id, start))

    async def stream_events(job_id: str, after: int) -> AsyncIterator[str]:
        quiet_since = time.monotonic()
        while True:
            batch = await asyncio.to_thread(store.events, job_id, after, 100)
            for event in batch:
                yield sse(event)
                after = event.seq
            if batch:
                quiet_since = time.monotonic()
                continue
            job = await asyncio.to_thread(store.get, job_id)
            # The final event is stored in the transaction that ends the job: once the job
            # reads finished, one more read has every event.
            if job is None or job.status.finished:
                for event in await asyncio.to_thread(store.events, job_id, after, 10_000):
                    yield sse(event)
                return
            if time.monotonic() - quiet_since > KEEP_ALIVE_S:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(min(settings.trainer_poll_interval_s, 1.0) / 2)

    @router.post("/{job_id}/cancel", response_model=TrainingJob)
    async def cancel(job_id: str) -> TrainingJob:
        """A queued job is cancelled at once; a running one stops at its next step boundary
        (status ``cancelling`` until then), keeping its last checkpoint."""
        job = await job_or_404(job_id)
        if job.status.finished:
            raise HTTPException(409, f"job {job_id} has already {job.status.value}")
        changed = await supervisor.cancel(job_id)
        assert changed is not None
        return changed

    @router.get("/{job_id}/checkpoints", response_model=list[CheckpointInfo])
    async def list_checkpoints(job_id: str) -> list[CheckpointInfo]:
        files = files_of(await job_or_404(job_id))
        return await asyncio.to_thread(checkpoints.list_checkpoints, files.checkpoints)

    async def comparison_of(job: TrainingJob) -> tuple[JobFiles, EvalComparison]:
        files = files_of(job)
        if not files.results.is_file():
            why = f": {job.error}" if job.error else ""
            raise HTTPException(409, f"results of {job.id} are not ready: the job is "
                                     f"{job.status.value}{why}")
        text = await asyncio.to_thread(files.results.read_text)
        return files, EvalComparison.model_validate_json(text)

    @router.get("/{job_id}/results", response_model=EvalComparison)
    async def results(job_id: str) -> EvalComparison:
        """Step J: base model against the best checkpoint on the valid split."""
        _, comparison = await comparison_of(await job_or_404(job_id))
        return comparison

    @router.post("/{job_id}/deploy", response_model=DeployResult,
                 responses={409: {"model": GateClosed}})
    async def deploy(job_id: str, request: DeployRequest) -> DeployResult | JSONResponse:
        """Deploy the best checkpoint; refused (409, with the gate's reasons) when the
        comparison does not open the gate, unless ``force`` with a recorded ``reason``."""
        job = await job_or_404(job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise HTTPException(409, f"job {job_id} is {job.status.value}: only a succeeded "
                                     f"job is deployed")
        files, comparison = await comparison_of(job)
        if not comparison.deployable and not request.force:
            return JSONResponse(status_code=409, content=GateClosed(
                detail="the deploy gate is closed (force with a reason to deploy anyway)",
                reasons=comparison.gate_reasons).model_dump())
        outside = export_dir_error(request, settings.data_dir)
        if outside is not None:
            return refused([outside])
        try:
            # Imported here: the deploy targets pull in what serving the model needs.
            from rft_trainer_gateway.deploy import DeployError, DeployGateClosed, deploy_job
        except ImportError as error:
            raise HTTPException(501, f"deploy is not available: {error}") from None
        try:
            result: DeployResult = await asyncio.to_thread(deploy_job, files, request)
        except DeployGateClosed as closed:
            return JSONResponse(status_code=409, content=GateClosed(
                detail=str(closed), reasons=closed.reasons).model_dump())
        except DeployError as error:
            raise HTTPException(409, f"deploy failed: {error}") from None
        await asyncio.to_thread(store.update, job_id, lambda j: j.model_copy(
            update={"tuned_model": result.model_name}))
        return result

    return router
