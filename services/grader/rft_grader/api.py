"""The grader's HTTP API: OpenAI's validate and run endpoints, and durable dry runs (followed as
a snapshot or as server-sent events)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse

from rft_grader.build import GraderConfigError
from rft_grader.dryrun.durable_jobs import DryRunJobs, DryRunRefused
from rft_grader.judging import JudgeClient
from rft_grader.openai_endpoints import run_endpoint, validate_endpoint
from rft_grader.presets import UnusableRows, preset_for_rows
from rft_grader.red_team import RedTeamReport, red_team_config, red_team_items
from rft_grader.settings import GraderSettings
from rft_runtime.http.sse import event_stream, snapshot_events
from rft_schemas.grader import (
    GraderPresetRequest,
    GraderPresetResponse,
    GraderRunRequest,
    GraderRunResponse,
    GraderValidateResponse,
)
from rft_schemas.rollouts import DryRunJob, DryRunRequest, DryRunStatus


def issues_response(status: int, message: str, issues: list[Any]) -> JSONResponse:
    return JSONResponse(status_code=status, content={
        "detail": message, "issues": [i.model_dump(mode="json") for i in issues]})


def build_router(jobs: DryRunJobs, judge: JudgeClient | None,
                 settings: GraderSettings) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["grader"])

    @router.post("/graders:validate", response_model=GraderValidateResponse)
    async def validate(
        grader: Annotated[dict[str, Any], Body()],
        dataset_fields: Annotated[list[str] | None, Body()] = None,
    ) -> GraderValidateResponse:
        """The grader back with its issues, each at its JSON path (none: the grader is valid).
        ``dataset_fields`` (optional) are the item fields templates may name."""
        # Parsing a large python grader's source or formula is CPU work: off the event loop.
        return await asyncio.to_thread(validate_endpoint, grader, dataset_fields)

    @router.post("/graders:preset", response_model=GraderPresetResponse,
                 responses={422: {"description": "a row is not a prompt, or no such preset"}})
    async def preset(request: GraderPresetRequest) -> GraderPresetResponse:
        """Step G when no grader is given: the preset the rows call for (tool usage when they
        carry tools, correctness otherwise) as grader_config.json, with the issues of its
        templates against the rows' item fields (none: it fits the rows)."""
        try:
            return await asyncio.to_thread(preset_for_rows, request.rows, request.preset)
        except UnusableRows as error:
            raise HTTPException(422, str(error)) from None
        except KeyError as error:
            raise HTTPException(422, str(error.args[0])) from None

    @router.post("/graders:run", response_model=GraderRunResponse)
    async def run(request: GraderRunRequest) -> GraderRunResponse | JSONResponse:
        """Grade one ``model_sample``: reward, sub_rewards, errors by flag, token usage."""
        try:
            return await run_endpoint(request, judge=judge, settings=settings)
        except GraderConfigError as error:
            return issues_response(400, "invalid grader", error.issues)

    @router.post("/graders:red-team", response_model=RedTeamReport)
    async def red_team_grader(
        grader: Annotated[dict[str, Any], Body()],
        items: Annotated[list[dict[str, Any]], Body(min_length=1, max_length=100)],
        consistency_runs: Annotated[int, Body(ge=0, le=20)] = 0,
    ) -> RedTeamReport | JSONResponse:
        """Score exploit answers built from ``items`` (empty, prompt copy, format shells,
        padding, refusal, wrong tool); flagged when one pays above the threshold. With
        ``consistency_runs``, the first item's reference is graded that many times."""
        try:
            return await red_team_config(grader, red_team_items(items, len(items)), judge=judge,
                                         settings=settings, consistency_runs=consistency_runs)
        except GraderConfigError as error:
            return issues_response(400, "invalid grader", error.issues)

    @router.post("/dry-runs", response_model=DryRunJob, status_code=202)
    async def create_dry_run(request: DryRunRequest) -> DryRunJob | JSONResponse:
        """Start a dry run (the same request again is the same job); poll its id."""
        try:
            return await jobs.submit(request)
        except DryRunRefused as error:
            return issues_response(422, str(error), error.issues)

    @router.get("/dry-runs/{job_id}", response_model=DryRunJob)
    async def get_dry_run(job_id: str) -> DryRunJob:
        job = await asyncio.to_thread(jobs.store.get, job_id)
        if job is None:
            raise HTTPException(404, f"no dry run {job_id}")
        return job

    @router.get("/dry-runs/{job_id}/events", response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def dry_run_events(job_id: str) -> StreamingResponse:
        """Server-sent events: ``progress`` (a ``DryRunJob``) now and as rollouts are scored,
        ``done`` with the report; then the stream ends."""
        await get_dry_run(job_id)
        return event_stream(snapshot_events(
            lambda: asyncio.to_thread(jobs.store.get, job_id),
            lambda job: job.status == DryRunStatus.DONE,
        ))

    return router
