"""F to J as one run: the trainer gateway's journey of the dataset (split, grader, dry run,
training, results through the owning services), started from a form and followed live.

Gateway API: ``POST /v1/datasets/{d}/journey``, ``GET /v1/datasets/{d}/journey`` and its
``/events`` (a running journey's page updates from them: rft_console.live).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rft_console.live import rendered_events
from rft_console.screens.context import Console, Dataset
from rft_schemas.journey import Journey


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    @api.get("/d/{dataset}/journey", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        found = await up.call("gateway", "GET", f"/v1/datasets/{dataset}/journey",
                              missing_ok=True)
        journey = None if found is None else Journey.model_validate(found)
        return pages.render(request, "journey.html", title="Journey F→J", dataset=dataset,
                            current=None, journey=journey)

    @api.post("/d/{dataset}/journey")
    async def start(
        dataset: Dataset,
        until: Annotated[Literal["H", "J"], Form()] = "H",
        device: Annotated[Literal["auto", "cpu", "cuda"], Form()] = "auto",
        tool_choice: Annotated[Literal["", "auto", "required"], Form()] = "",
        stop_on_no_go: Annotated[bool, Form()] = False,
        restart: Annotated[bool, Form()] = False,
    ) -> Response:
        body: dict[str, Any] = {"until": until, "device": device,
                                "stop_on_no_go": stop_on_no_go, "restart": restart}
        if tool_choice:
            body["tool_choice"] = tool_choice
        await up.call("gateway", "POST", f"/v1/datasets/{dataset}/journey", json=body)
        return RedirectResponse(f"/d/{dataset}/journey", status_code=303)

    @api.get("/d/{dataset}/journey/events")
    async def events(dataset: Dataset) -> Response:
        return await rendered_events(
            up, pages, "gateway", f"/v1/datasets/{dataset}/journey/events",
            "journey_progress.html",
            lambda data: {"dataset": dataset, "journey": Journey.model_validate(data)},
        )

    return api
