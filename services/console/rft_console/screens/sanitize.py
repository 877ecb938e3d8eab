"""Step A: upload traces, the sanitize report with rejections by reason, the rejected records.

Sanitizer API: ``POST /v1/datasets/{d}/traces`` (the upload's own counts come back),
``GET .../sanitize-report`` (the dataset's, every upload together), ``GET .../rejected``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from rft_console.screens.context import Console, Dataset
from rft_schemas.traces import RejectionReason, SanitizeReport

MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # the sanitizer's own default body limit


def router(console: Console) -> APIRouter:
    api = APIRouter()
    up, pages = console.upstream, console.pages

    async def report_of(dataset: str) -> SanitizeReport | None:
        found = await up.call(
            "sanitizer", "GET", f"/v1/datasets/{dataset}/sanitize-report", missing_ok=True
        )
        report = None if found is None else SanitizeReport.model_validate(found)
        return report if report is not None and report.input else None

    @api.get("/d/{dataset}/sanitize", response_class=HTMLResponse)
    async def screen(request: Request, dataset: Dataset) -> Response:
        return pages.render(
            request, "sanitize.html", title="A · Sanitize", dataset=dataset, current="sanitize",
            report=await report_of(dataset), upload=None,
        )

    @api.post("/d/{dataset}/sanitize/upload", response_class=HTMLResponse)
    async def upload(
        request: Request, dataset: Dataset, traces: Annotated[UploadFile, File()]
    ) -> Response:
        body = await traces.read(MAX_UPLOAD_BYTES + 1)
        if not body.strip():
            return pages.render(request, "alert.html", message="the file is empty",
                                headers={"HX-Retarget": "#alerts"})
        found = await up.call(
            "sanitizer", "POST", f"/v1/datasets/{dataset}/traces", content=body,
            headers={"Content-Type": "application/octet-stream"},
        )
        return pages.render(
            request, "sanitize_report.html", dataset=dataset,
            upload=SanitizeReport.model_validate(found), upload_name=traces.filename or "upload",
            report=await report_of(dataset),
        )

    @api.get("/d/{dataset}/sanitize/rejected", response_class=HTMLResponse)
    async def rejected(
        request: Request,
        dataset: Dataset,
        reason: RejectionReason | None = None,
        cursor: int = 0,
    ) -> Response:
        params: dict[str, str | int] = {"limit": console.settings.page_size, "cursor": cursor}
        if reason is not None:
            params["reason"] = reason.value
        page = await up.call(
            "sanitizer", "GET", f"/v1/datasets/{dataset}/rejected", params=params
        )
        return pages.render(
            request, "rejected.html", dataset=dataset, reason=reason, items=page["items"],
            next_cursor=page["next_cursor"], first_page=cursor == 0,
        )

    return api
