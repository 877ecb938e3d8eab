"""Step G: the grader editor. The preset the grader service chooses for the split's rows, as
JSON to edit; validate it against the rows' fields, preview it on real rows (each row's own
reference answer as the sample: what a right answer earns), and red-team it.

Grader API: ``POST /v1/graders:preset``, ``:validate``, ``:run``, ``:red-team``; the rows are
the generator's ``GET /v1/datasets/{d}/split``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_console.upstream import UpstreamError

PREVIEW_ROWS = 3
RED_TEAM_ROWS = 4


def reference_sample(row: dict[str, Any]) -> dict[str, Any]:
    """The row's own reference as a model sample (text and tool calls)."""
    reference = row.get("reference")
    return {"model_sample": reference if isinstance(reference, str) else "",
            "output_tools": row.get("reference_tool_calls") or []}


def last_user_text(row: dict[str, Any]) -> str:
    for message in reversed(row.get("messages") or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def parse_grader(text: str) -> dict[str, Any]:
    """The edited grader: one grader, or a whole grader_config.json (its ``grader``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UpstreamError("console", f"the grader is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise UpstreamError("console", "the grader must be a JSON object")
    inner = value.get("grader")
    return inner if isinstance(inner, dict) and "type" not in value else value


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def train_rows(dataset: str) -> list[dict[str, Any]] | None:
        split = await up.call("generator", "GET", f"/v1/datasets/{dataset}/split",
                              missing_ok=True)
        return None if split is None else list(split.get("train") or [])

    @api.get("/d/{dataset}/grader", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        rows = await train_rows(dataset)
        preset = None
        if rows:
            preset = await up.call("grader", "POST", "/v1/graders:preset",
                                   json={"rows": rows[:50]})
        return pages.render(
            request, "grader.html", title="G · Grader", dataset=dataset, current="grader",
            rows=rows, preset=preset,
            grader_json=json.dumps(preset["config"]["grader"], indent=2) if preset else "",
        )

    @api.post("/d/{dataset}/grader/validate", response_class=HTMLResponse)
    async def validate(
        request: Request, dataset: Dataset, grader: Annotated[str, Form()]
    ) -> Response:
        rows = await train_rows(dataset) or []
        fields = sorted({key for row in rows[:50] for key in row})
        found = await up.call("grader", "POST", "/v1/graders:validate",
                              json={"grader": parse_grader(grader), "dataset_fields": fields})
        return pages.render(request, "grader_issues.html", issues=found["issues"])

    @api.post("/d/{dataset}/grader/preview", response_class=HTMLResponse)
    async def preview(
        request: Request, dataset: Dataset, grader: Annotated[str, Form()]
    ) -> Response:
        config = parse_grader(grader)
        results = []
        for row in (await train_rows(dataset) or [])[:PREVIEW_ROWS]:
            found = await up.call("grader", "POST", "/v1/graders:run",
                                  json={"grader": config, "item": row, **reference_sample(row)})
            results.append({"prompt": last_user_text(row), "reward": found["reward"],
                            "sub_rewards": found.get("sub_rewards") or {}})
        return pages.render(request, "grader_preview.html", results=results)

    @api.post("/d/{dataset}/grader/red-team", response_class=HTMLResponse)
    async def red_team(
        request: Request, dataset: Dataset, grader: Annotated[str, Form()]
    ) -> Response:
        rows = (await train_rows(dataset) or [])[:RED_TEAM_ROWS]
        if not rows:
            raise UpstreamError("generator", f"no split of {dataset}: split it first (F)")
        found = await up.call("grader", "POST", "/v1/graders:red-team",
                              json={"grader": parse_grader(grader), "items": rows})
        return pages.render(request, "grader_red_team.html", report=found)

    return api
