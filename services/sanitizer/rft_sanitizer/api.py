"""The sanitizer's HTTP API: upload traces, read the report, page through rejections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from rft_runtime.http.params import Cursor, DatasetInPath
from rft_runtime.kafka.stage import Outbound
from rft_sanitizer.batch import batches
from rft_sanitizer.outcome_store import OutcomeStore
from rft_sanitizer.pipeline import ReportBuilder, Sanitizer
from rft_sanitizer.reader import read_traces
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.stage import outputs_of
from rft_sanitizer.uploads import Uploads, save_upload
from rft_schemas.traces import Rejection, RejectionReason, SanitizeReport

Publish = Callable[[Sequence[Outbound]], Awaitable[None]]


class RejectedPageOut(BaseModel):
    items: list[Rejection]
    next_cursor: int | None


def build_router(
    sanitizer: Sanitizer,
    store: OutcomeStore,
    settings: SanitizerSettings,
    uploads: Uploads,
    publish: Publish | None,
) -> APIRouter:
    router = APIRouter(prefix="/v1/datasets/{dataset}", tags=["sanitizer"])

    @router.post("/traces", response_model=SanitizeReport)
    async def upload_traces(dataset: DatasetInPath, request: Request) -> SanitizeReport:
        """Sanitize a JSONL or JSON-array body; the counts of this upload come back.

        Prompts and rejections also go to their Kafka topics when the service has a broker,
        so an upload feeds the streaming pipeline like an exporter would.
        """
        body = await request.body()
        if not body.strip():
            raise HTTPException(422, "empty body: send JSON Lines or a JSON array of traces")
        report = ReportBuilder(dataset, sanitizer.policy.counter.name)
        with uploads.saved(dataset, body) as path:
            records = read_traces(
                path, dataset, settings.max_record_bytes, settings.excerpt_chars
            )
            for batch in batches(records, settings.batch_size):
                outcomes = await asyncio.to_thread(sanitizer.process_batch, batch)
                trace_ids = [
                    r.trace_id or r.id if isinstance(r, Rejection) else r.id for r in batch
                ]
                await asyncio.to_thread(store.record, trace_ids, outcomes)
                if publish is not None:
                    await publish(outputs_of(outcomes))
                for outcome in outcomes:
                    report.add(outcome)
        return report.report()

    @router.get("/sanitize-report", response_model=SanitizeReport)
    async def sanitize_report(dataset: DatasetInPath) -> SanitizeReport:
        return await asyncio.to_thread(store.report, dataset, sanitizer.policy.counter.name)

    @router.get("/rejected", response_model=RejectedPageOut)
    async def rejected(
        dataset: DatasetInPath,
        reason: RejectionReason | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        cursor: Cursor = 0,
    ) -> RejectedPageOut:
        items, next_cursor = await asyncio.to_thread(
            store.rejected, dataset, reason.value if reason else None, limit, cursor
        )
        return RejectedPageOut(items=items, next_cursor=next_cursor)

    return router


def _save_upload(directory: Path, body: bytes) -> Path:
    """Kept for the reader's tests: :func:`rft_sanitizer.uploads.save_upload`."""
    return save_upload(directory, body)
