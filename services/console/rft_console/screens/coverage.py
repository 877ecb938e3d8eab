"""Step D: coverage by topic against its target, the gaps, the spread per level.

Categorizer API: ``GET /v1/datasets/{d}/coverage`` (``?total_target=``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_schemas.topics import CoverageReport


def chart_of(report: CoverageReport) -> dict[str, Any]:
    """Chart.js's config: counts and targets of the leaves, gaps in another colour."""
    parents = {tuple(t.path[:-1]) for t in report.topics}
    leaves = [t for t in report.topics if tuple(t.path) not in parents]
    return {
        "type": "bar",
        "data": {
            "labels": ["/".join(t.path) for t in leaves],
            "datasets": [
                {"label": "prompts", "data": [t.count for t in leaves],
                 "backgroundColor": ["#d9822b" if t.below_target else "#2b7bd9" for t in leaves]},
                {"label": "target", "data": [t.target for t in leaves],
                 "backgroundColor": "#c8c8c8"},
            ],
        },
        "options": {"indexAxis": "y", "animation": False, "responsive": True,
                    "maintainAspectRatio": False},
    }


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    @api.get("/d/{dataset}/coverage", response_class=HTMLResponse)
    async def screen(
        request: Request,
        dataset: Dataset,
        total_target: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        found = await up.call(
            "categorizer", "GET", f"/v1/datasets/{dataset}/coverage",
            params={"total_target": total_target} if total_target else None, missing_ok=True,
        )
        report = None if found is None else CoverageReport.model_validate(found)
        return pages.render(
            request, "coverage.html", title="D · Coverage", dataset=dataset, current="coverage",
            report=report, chart=chart_of(report) if report and report.topics else None,
            total_target=total_target,
        )

    return api
