"""Step F: the final distribution (before generation against the split), the sources, and
train/valid; split again with other options.

Generator API: ``POST /v1/datasets/{d}/split`` (the options), ``GET .../split?rows=false``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_schemas.generation import DatasetSplit


def distribution(split: DatasetSplit) -> list[dict[str, Any]]:
    """Per topic: share of the traces before generation, share of the split after, counts."""
    counts = split.manifest.counts
    topics = sorted({*split.manifest.before, *(t for c in counts.values() for t in c)})
    after = {t: sum(c.get(t, 0) for c in counts.values()) for t in topics}
    before_total = sum(split.manifest.before.values()) or 1
    after_total = sum(after.values()) or 1
    return [{
        "topic": t,
        "before": split.manifest.before.get(t, 0),
        "before_share": split.manifest.before.get(t, 0) / before_total,
        "after": after[t],
        "after_share": after[t] / after_total,
        "train": counts.get("train", {}).get(t, 0),
        "valid": counts.get("valid", {}).get(t, 0),
    } for t in topics]


def chart_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "bar",
        "data": {
            "labels": [r["topic"] for r in rows],
            "datasets": [
                {"label": "before (%)", "backgroundColor": "#c8c8c8",
                 "data": [round(100 * r["before_share"], 1) for r in rows]},
                {"label": "after (%)", "backgroundColor": "#2b7bd9",
                 "data": [round(100 * r["after_share"], 1) for r in rows]},
            ],
        },
        "options": {"animation": False, "maintainAspectRatio": False},
    }


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    @api.get("/d/{dataset}/split", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        found = await up.call("generator", "GET", f"/v1/datasets/{dataset}/split",
                              params={"rows": "false"}, missing_ok=True)
        split = None if found is None else DatasetSplit.model_validate(found)
        rows = distribution(split) if split else []
        return pages.render(
            request, "split.html", title="F · Split", dataset=dataset, current="split",
            split=split, rows=rows, chart=chart_of(rows) if rows else None,
        )

    @api.post("/d/{dataset}/split", response_class=HTMLResponse)
    async def make(
        request: Request,
        dataset: Dataset,
        valid_fraction: Annotated[float, Form(ge=0.0, lt=1.0)] = 0.1,
        seed: Annotated[int, Form()] = 0,
        valid_real_only: Annotated[bool, Form()] = False,
    ) -> Response:
        await up.call("generator", "POST", f"/v1/datasets/{dataset}/split", json={
            "valid_fraction": valid_fraction, "seed": seed, "valid_real_only": valid_real_only})
        # POST, redirect, GET: a reload does not split again
        return RedirectResponse(f"/d/{dataset}/split", status_code=303)

    return api
