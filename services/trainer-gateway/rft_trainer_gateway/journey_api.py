"""The journey's HTTP API on the trainer gateway.

    POST /v1/datasets/{dataset}/journey   run F to ``until`` (H or J); posted again, goes on
                                          from the first step not done (409 while it runs)
    GET  /v1/datasets/{dataset}/journey   each step's status (pending, running, done, failed
                                          with its reason) and outputs
    GET  /v1/datasets/{dataset}/journey/events  the same as server-sent events: ``progress``
                                          at each change, ``done`` when it has ended
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from rft_runtime.http.params import DatasetInPath
from rft_runtime.http.sse import event_stream, snapshot_events
from rft_schemas import Journey, JourneyRequest, JourneyStatus
from rft_trainer_gateway.journey import JourneyBusy, JourneyRunner


def build_journey_router(runner: JourneyRunner) -> APIRouter:
    router = APIRouter(prefix="/v1/datasets", tags=["journey"])

    @router.post("/{dataset}/journey", response_model=Journey, status_code=202,
                 responses={409: {"description": "the journey is running"}})
    async def start(dataset: DatasetInPath, request: JourneyRequest | None = None) -> Journey:
        """Run the dataset's journey from F to ``until`` through the services' APIs; follow
        it with GET."""
        try:
            return await runner.submit(dataset, request or JourneyRequest())
        except JourneyBusy as busy:
            raise HTTPException(409, str(busy)) from None

    @router.get("/{dataset}/journey", response_model=Journey)
    async def state(dataset: DatasetInPath) -> Journey:
        journey = await asyncio.to_thread(runner.store.get, dataset)
        if journey is None:
            raise HTTPException(404, f"no journey of dataset {dataset!r}: POST "
                                     f"/v1/datasets/{dataset}/journey to start one")
        return journey

    @router.get("/{dataset}/journey/events", response_class=StreamingResponse,
                responses={200: {"content": {"text/event-stream": {}}}})
    async def events(dataset: DatasetInPath) -> StreamingResponse:
        await state(dataset)  # 404 before the stream starts
        return event_stream(snapshot_events(
            lambda: asyncio.to_thread(runner.store.get, dataset),
            lambda journey: journey.status is not JourneyStatus.RUNNING,
            interval_s=1.0,
        ))

    return router
