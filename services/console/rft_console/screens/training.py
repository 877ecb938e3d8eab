"""Step I: the dataset's training jobs and a form to start one (the split's rows, the grader
pasted or the preset, the gateway's budget for the device as the starting values), and one job
live: progress, ETA, train and valid reward per grader, the zero-signal and grader-error
shares, cancel.

Live means the gateway's server-sent events relayed to the browser as they come (no polling):
``GET /v1/training-jobs/{id}/events`` (Last-Event-ID passed through, so a reconnecting browser
gets exactly what it missed). Gateway API: ``GET /v1/training-budget``, ``POST`` and ``GET
/v1/training-jobs``, ``GET .../{id}``, ``POST .../{id}/cancel``; the split from the generator,
the preset from the grader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rft_console.forms import whole_number
from rft_console.screens.context import Console, Dataset
from rft_console.screens.grader import parse_grader
from rft_console.upstream import UpstreamError
from rft_runtime.http.sse import event_stream
from rft_schemas.training import TrainingBudget, TrainingJob

# The budget fields the form shows, in its order; the rest of the budget is sent as it is.
BUDGET_FIELDS: tuple[tuple[str, str], ...] = (
    ("max_steps", "Max steps"), ("prompts_per_step", "Prompts per step"),
    ("samples_per_prompt", "Samples per prompt"), ("max_completion_tokens", "Max answer tokens"),
    ("eval_every_steps", "Valid reward every (steps)"), ("eval_prompts", "Valid prompts"),
    ("final_eval_prompts", "Prompts compared in J"),
)


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

    async def budget(device: str) -> TrainingBudget:
        return TrainingBudget.model_validate(await up.call(
            "gateway", "GET", "/v1/training-budget",
            params={"device": "cuda" if device == "cuda" else "cpu"}))

    @api.get("/d/{dataset}/train", response_class=HTMLResponse)
    async def jobs(request: Request, dataset: Dataset,
                   device: Literal["auto", "cpu", "cuda"] = "auto") -> Response:
        return pages.render(request, "training_jobs.html", title="I · Train", dataset=dataset,
                            current="train", jobs=await jobs_of(dataset), device=device,
                            budget=await budget(device), fields=BUDGET_FIELDS)

    @api.post("/d/{dataset}/train")
    async def start(
        request: Request,
        dataset: Dataset,
        device: Annotated[Literal["auto", "cpu", "cuda"], Form()] = "auto",
        tool_choice: Annotated[Literal["", "auto", "required"], Form()] = "",
        grader: Annotated[str, Form()] = "",
    ) -> Response:
        form = await request.form()
        split = await up.call("generator", "GET", f"/v1/datasets/{dataset}/split",
                              missing_ok=True)
        train, valid = (list((split or {}).get(part) or []) for part in ("train", "valid"))
        if not train or not valid:
            raise UpstreamError("generator", f"no split of {dataset} with train and valid rows: "
                                             "split it first (F)")
        config = parse_grader(grader) if grader.strip() else (await up.call(
            "grader", "POST", "/v1/graders:preset", json={"rows": train[:50]}))["config"]
        hyperparameters: dict[str, Any] = (await budget(device)).hyperparameters.model_dump(
            mode="json", exclude_none=True)
        for name, label in BUDGET_FIELDS:  # the gateway checks the values (a 422 names one)
            if (value := whole_number(str(form.get(name) or ""), label)) is not None:
                hyperparameters[name] = value
        if "max_steps" in hyperparameters:
            hyperparameters.pop("epochs", None)  # steps, when given, are the budget
        if tool_choice:
            hyperparameters["tool_choice"] = tool_choice
        job = TrainingJob.model_validate(await up.call("gateway", "POST", "/v1/training-jobs",
                                                       json={
            "dataset": dataset, "train": {"rows": train}, "valid": {"rows": valid},
            "grader": config, "device": device, "hyperparameters": hyperparameters,
        }))
        return RedirectResponse(f"/d/{dataset}/train/{job.id}", status_code=303)

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
