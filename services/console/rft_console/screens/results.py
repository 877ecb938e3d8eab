"""Step J: base model against the tuned one on the valid split, per topic with intervals,
regressions, before/after samples, and deploy behind the gate.

Gateway API: ``GET /v1/training-jobs/{id}/results``, ``POST .../{id}/deploy`` (409 with the
gate's reasons when it is closed and not forced).
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_console.upstream import UpstreamError, detail_of
from rft_schemas.training import DeployResult, DeployTarget, EvalComparison


def chart_of(results: EvalComparison) -> dict[str, Any]:
    topics = sorted(results.by_topic)
    return {
        "type": "bar",
        "data": {
            "labels": topics,
            "datasets": [
                {"label": f"before ({results.base_model})", "backgroundColor": "#c8c8c8",
                 "data": [results.by_topic[t].before for t in topics]},
                {"label": "after", "backgroundColor": "#2b7bd9",
                 "data": [results.by_topic[t].after for t in topics]},
            ],
        },
        "options": {"animation": False, "maintainAspectRatio": False,
                    "scales": {"y": {"min": 0, "max": 1}}},
    }


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    @api.get("/d/{dataset}/results/{job_id}", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset, job_id: str) -> Response:
        results = EvalComparison.model_validate(
            await up.call("gateway", "GET", f"/v1/training-jobs/{job_id}/results")
        )
        return pages.render(
            request, "results.html", title=f"J · Results {job_id}", dataset=dataset,
            current="train", results=results, job_id=job_id, chart=chart_of(results),
            targets=list(DeployTarget),
        )

    @api.post("/d/{dataset}/results/{job_id}/deploy", response_class=HTMLResponse)
    async def deploy(
        request: Request,
        dataset: Dataset,
        job_id: str,
        target: Annotated[DeployTarget, Form()],
        model_name: Annotated[str, Form()] = "",
        force: Annotated[bool, Form()] = False,
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        body: dict[str, Any] = {"target": target.value, "force": force}
        if model_name.strip():
            body["model_name"] = model_name.strip()
        if reason.strip():
            body["reason"] = reason.strip()
        url = up.url("gateway", f"/v1/training-jobs/{job_id}/deploy")
        try:
            answer = await up.client.post(url, json=body)
        except httpx.TransportError as error:
            raise UpstreamError("gateway", f"the gateway did not answer: {error!r}") from error
        if answer.status_code == 409 and "reasons" in answer.json():
            # the gate is closed: its reasons, not an error
            return pages.render(request, "deploy_refused.html", detail=answer.json()["detail"],
                                reasons=answer.json()["reasons"])
        if answer.status_code >= 400:
            raise UpstreamError("gateway", f"deploy refused ({answer.status_code}): "
                                           f"{detail_of(answer)}", answer.status_code)
        return pages.render(request, "deploy_done.html",
                            result=DeployResult.model_validate(answer.json()))

    return api
