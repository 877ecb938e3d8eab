"""With a broker configured, every stored training event is also on rft.training.events.v1,
keyed by the job id (one job's events stay in order on one partition)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from rft_runtime.kafka.topics import ensure_topics
from rft_schemas.kafka_topics import TRAINING_EVENTS
from rft_trainer_gateway.service import build_service
from rft_trainer_gateway.settings import TrainerSettings
from tests.integration.kafka_io import read_topic
from tests.trainer_gateway.conftest import request_body


@pytest.mark.broker
async def test_every_stored_event_is_published_keyed_by_its_job(
        kafka_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_STEP_S", "0.05")
    settings = TrainerSettings(data_dir=tmp_path, kafka_bootstrap=kafka_broker.bootstrap,
                               trainer_worker_module="tests.trainer_gateway.standin_worker",
                               trainer_poll_interval_s=0.1)
    await ensure_topics(settings, [TRAINING_EVENTS.name])
    app, _, _ = build_service(settings, registry=CollectorRegistry())
    supervisor = app.state.supervisor
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            job_id = (await client.post("/v1/training-jobs", json=request_body())).json()["id"]
            deadline = time.monotonic() + 60
            url = f"/v1/training-jobs/{job_id}"
            while (await client.get(url)).json()["status"] != "succeeded":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            stored = (await client.get(f"/v1/training-jobs/{job_id}/events",
                                       params={"format": "json", "limit": 1000})).json()["data"]
            while supervisor.store.record(job_id).published_seq < stored[-1]["seq"]:
                assert time.monotonic() < deadline, "the broker never acknowledged them all"
                await asyncio.sleep(0.1)

    def of_job(records: list[tuple[str, bytes]]) -> list[dict[str, object]]:
        return [json.loads(value) for key, value in records if key == job_id]

    records = await read_topic(kafka_broker.bootstrap, TRAINING_EVENTS.name,
                               lambda r: len(of_job(r)) >= len(stored), 60)
    assert of_job(records) == stored
