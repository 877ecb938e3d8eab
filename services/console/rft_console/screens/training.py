"""Step I: the dataset's training jobs, and one job live: progress, ETA, train and valid reward
per grader, the zero-signal and grader-error shares, cancel.

Live means the gateway's server-sent events relayed to the browser as they come (no polling):
``GET /v1/training-jobs/{id}/events`` (Last-Event-ID passed through, so a reconnecting browser
gets exactly what it missed). Gateway API: ``GET /v1/training-jobs``, ``GET .../{id}``,
``POST .../{id}/cancel``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_runtime.http.sse import event_stream
from rft_schemas.training import TrainingJob


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def jobs_of(dataset: str) -> list[TrainingJob]:
        """The dataset's jobs among the newest (the gateway pages all datasets together)."""
        jobs: list[TrainingJob] = []
        after: str | None = None
        for _ in range(5):  # at most 500 jobs back: older ones are not a console's business
            params: dict[str, str | int] = {"limit": 100, **({"after": after} if after else {})}
            page = await up.call("gateway", "GET", "/v1/training-jobs", params=params)
            batch = [TrainingJob.model_validate(j) for j in page["data"]]
            jobs += [j for j in batch if j.dataset == dataset]
            if not page["has_more"] or not batch:
                break
            after = batch[-1].id
        return jobs

    @api.get("/d/{dataset}/train", response_class=HTMLResponse)
    async def jobs(request: Request, dataset: Dataset) -> Response:
        return pages.render(request, "training_jobs.html", title="I · Train", dataset=dataset,
                            current="train", jobs=await jobs_of(dataset))

    @api.get("/d/{dataset}/train/{job_id}", response_class=HTMLResponse)
    async def job(request: Request, dataset: Dataset, job_id: str) -> Response:
        found = TrainingJob.model_validate(
            await up.call("gateway", "GET", f"/v1/training-jobs/{job_id}")
        )
        return pages.render(request, "training_job.html", title=f"I · Train {job_id}",
                            dataset=dataset, current="train", job=found)

    @api.post("/d/{dataset}/train/{job_id}/cancel", response_class=HTMLResponse)
    async def cancel(request: Request, dataset: Dataset, job_id: str) -> Response:
        found = TrainingJob.model_validate(
            await up.call("gateway", "POST", f"/v1/training-jobs/{job_id}/cancel")
        )
        return pages.render(request, "alert.html",
                            message=f"Cancel requested: the job is {found.status.value}; it "
                                    f"stops at its next step and keeps its checkpoints.")

    @api.get("/d/{dataset}/train/{job_id}/events")
    async def events(request: Request, dataset: Dataset, job_id: str) -> Response:
        headers = {}
        if last := request.headers.get("Last-Event-ID"):
            headers["Last-Event-ID"] = last
        upstream = await up.open_stream("gateway", f"/v1/training-jobs/{job_id}/events", headers)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()  # the browser left, or the job ended

        return event_stream(relay())

    return api
