"""Step E: generate prompts for the topics below their target, and a job's progress per topic
(target, generated, validation pass rate, failures by reason, previews).

Generator API: ``POST /v1/generation-jobs``, ``GET /v1/generation-jobs/{id}`` and its
``/events`` (a running job's page updates from them: rft_console.live); the gaps are the
categorizer's coverage.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rft_console.live import rendered_events
from rft_console.screens.context import Console, Dataset
from rft_schemas.topics import CoverageReport


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def gaps(dataset: str) -> list[dict[str, Any]]:
        found = await up.call("categorizer", "GET", f"/v1/datasets/{dataset}/coverage",
                              missing_ok=True)
        if found is None:
            return []
        report = CoverageReport.model_validate(found)
        parents = {tuple(t.path[:-1]) for t in report.topics}
        return [{"topic": "/".join(t.path), "count": t.count, "recommended": t.recommended_generate}
                for t in report.topics
                if tuple(t.path) not in parents and t.path != ["other"]]

    @api.get("/d/{dataset}/generate", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        return pages.render(request, "generate_start.html", title="E · Generate",
                            dataset=dataset, current="generate", gaps=await gaps(dataset))

    @api.post("/d/{dataset}/generate")
    async def start(
        request: Request,
        dataset: Dataset,
        max_tokens: Annotated[int, Form(ge=1, le=4096)] = 64,
        candidates: Annotated[int, Form(ge=1, le=64)] = 4,
    ) -> Response:
        form = await request.form()
        targets = {
            str(key)[len("target:"):]: int(str(value))
            for key, value in form.multi_items()
            if str(key).startswith("target:") and str(value).strip().isdigit()
            and int(str(value)) > 0
        }
        job_id = f"{dataset}-{int(time.time())}"
        found = await up.call("generator", "POST", "/v1/generation-jobs", json={
            "id": job_id, "dataset": dataset, "targets": targets or None,
            "max_tokens": max_tokens, "candidates_per_request": candidates,
        })
        return RedirectResponse(f"/d/{dataset}/generate/{found['job']['id']}", status_code=303)

    @api.get("/d/{dataset}/generate/{job_id}", response_class=HTMLResponse)
    async def job(request: Request, dataset: Dataset, job_id: str) -> Response:
        found = await up.call("generator", "GET", f"/v1/generation-jobs/{job_id}")
        return pages.render(request, "generate.html", title=f"E · Generation {job_id}",
                            dataset=dataset, current="generate", out=found)

    @api.get("/d/{dataset}/generate/{job_id}/events")
    async def events(dataset: Dataset, job_id: str) -> Response:
        return await rendered_events(
            up, pages, "generator", f"/v1/generation-jobs/{job_id}/events",
            "generate_progress.html", lambda out: {"dataset": dataset, "out": out},
        )

    return api
