"""Step H: the dry run. Start one on the split's train rows with the grader the grader service
chooses for them (or a grader pasted from G), then the report: histogram, statistics, the
GO/NO-GO verdict with its reasons, by topic, samples.

Grader API: ``POST /v1/dry-runs``, ``GET /v1/dry-runs/{id}`` and its ``/events`` (a running
dry run's page updates from them until the report replaces it: rft_console.live),
``POST /v1/graders:preset``; rows from the generator's split; the gateway's journey (when one
ran H) names its dry run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rft_console.forms import whole_number
from rft_console.live import rendered_events
from rft_console.screens.context import Console, Dataset
from rft_console.screens.grader import parse_grader
from rft_console.upstream import UpstreamError
from rft_schemas.rollouts import DryRunJob, DryRunReport


def histogram_chart(report: DryRunReport) -> dict[str, Any]:
    bins = len(report.histogram)
    labels = [f"{i / bins:.2f}-{(i + 1) / bins:.2f}" for i in range(bins)]
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": [
            {"label": "samples", "data": report.histogram, "backgroundColor": "#2b7bd9"}]},
        "options": {"animation": False, "maintainAspectRatio": False,
                    "plugins": {"legend": {"display": False}}},
    }


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def journey_dry_run(dataset: str) -> str | None:
        """The dry run the gateway's journey of this dataset ran, if any."""
        if not up.urls["gateway"]:
            return None
        journey = await up.call("gateway", "GET", f"/v1/datasets/{dataset}/journey",
                                missing_ok=True)
        for step in (journey or {}).get("steps", []):
            if step.get("step") == "H" and step.get("dry_run"):
                return str(step["dry_run"]["job_id"])
        return None

    @api.get("/d/{dataset}/dryrun", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        return pages.render(request, "dryrun_start.html", title="H · Dry run", dataset=dataset,
                            current="dryrun", journey_job=await journey_dry_run(dataset))

    @api.post("/d/{dataset}/dryrun")
    async def start(
        request: Request,
        dataset: Dataset,
        prompt_count: Annotated[str, Form()] = "",
        samples_per_prompt: Annotated[int, Form(ge=1, le=64)] = 2,
        max_tokens: Annotated[str, Form()] = "",
        tool_choice: Annotated[Literal["", "auto", "required"], Form()] = "",
        grader: Annotated[str, Form()] = "",
    ) -> Response:
        split = await up.call("generator", "GET", f"/v1/datasets/{dataset}/split",
                              missing_ok=True)
        rows = list((split or {}).get("train") or [])
        if not rows:
            raise UpstreamError("generator", f"no split of {dataset}: split it first (F)")
        config = parse_grader(grader) if grader.strip() else (await up.call(
            "grader", "POST", "/v1/graders:preset", json={"rows": rows[:50]}))["config"]
        body: dict[str, Any] = {  # N and max tokens left empty: the grader's size by backend
            "dataset": dataset, "prompts": rows, "grader": config,
            "samples_per_prompt": samples_per_prompt,
            "prompt_count": whole_number(prompt_count, "Prompts (N)"),
            "max_tokens": whole_number(max_tokens, "Max tokens per answer"),
        }
        if tool_choice:
            body["tool_choice"] = tool_choice
        job = DryRunJob.model_validate(await up.call("grader", "POST", "/v1/dry-runs", json=body))
        return RedirectResponse(f"/d/{dataset}/dryrun/{job.id}", status_code=303)

    def report_context(dataset: str, job: DryRunJob) -> dict[str, Any]:
        report = job.report
        return {"dataset": dataset, "job": job, "report": report,
                "chart": histogram_chart(report) if report and report.histogram else None}

    @api.get("/d/{dataset}/dryrun/{job_id}", response_class=HTMLResponse)
    async def job(request: Request, dataset: Dataset, job_id: str) -> Response:
        found = DryRunJob.model_validate(
            await up.call("grader", "GET", f"/v1/dry-runs/{job_id}")
        )
        return pages.render(request, "dryrun.html", title=f"H · Dry run {job_id}",
                            current="dryrun", **report_context(dataset, found))

    @api.get("/d/{dataset}/dryrun/{job_id}/events")
    async def events(dataset: Dataset, job_id: str) -> Response:
        return await rendered_events(
            up, pages, "grader", f"/v1/dry-runs/{job_id}/events", "dryrun_body.html",
            lambda data: report_context(dataset, DryRunJob.model_validate(data)),
        )

    return api
