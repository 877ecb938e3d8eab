"""The sanitizer as a service: the streaming path on the real broker, and its HTTP API."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from rft_sanitizer import SanitizerSettings, read_traces, sanitize_files
from rft_schemas.kafka_topics import RAW_TRACES, REJECTED, SANITIZED_PROMPTS
from rft_schemas.traces import RawTrace
from tests.integration.kafka_io import produce, read_topic
from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.broker
DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
REAL_FILES = [
    DATA / "drone_training.jsonl",
    DATA / "toolace_sharegpt_100.json",
    DATA / "tau2_airline" / "whissle_airline_run1.json",
    DATA / "toy_chat_fine_tuning.jsonl",
]


class SanitizerProcess(ServiceProcess):
    def __init__(self, bootstrap: str, data_dir: Path, batch: int = 500) -> None:
        super().__init__("rft_sanitizer", {
            "RFT_KAFKA_BOOTSTRAP": bootstrap,
            "RFT_DATA_DIR": str(data_dir),
            "RFT_KAFKA_BATCH_MAX_RECORDS": str(batch),
            "RFT_HTTP_MAX_BODY_BYTES": str(2 * 1024 * 1024),
            "RFT_LOG_LEVEL": "WARNING",
        })


def of_dataset(records: list[tuple[str, bytes]], dataset: str) -> list[dict]:
    parsed = [json.loads(value) for _, value in records]
    return [r for r in parsed if r.get("dataset") == dataset]


async def test_streaming_path_survives_a_kill_and_matches_the_batch_runner(
    kafka_broker, tmp_path
):
    dataset = f"stream-{uuid.uuid4().hex[:8]}"
    settings = SanitizerSettings(dataset=dataset, data_dir=tmp_path / "batch")
    expected = sanitize_files(REAL_FILES, tmp_path / "batch-out", settings)
    expected_ids = {
        json.loads(line)["id"]
        for line in (tmp_path / "batch-out" / "sanitized_prompts.jsonl").read_text().splitlines()
    }
    traces: list[RawTrace] = [
        r for path in REAL_FILES for r in read_traces(path, dataset, 16 * 1024 * 1024)
        if isinstance(r, RawTrace)
    ]
    assert len(traces) == expected.input

    service = SanitizerProcess(kafka_broker.bootstrap, tmp_path / "service", batch=10)
    await service.start()
    encoded = [(t.id, t.model_dump_json().encode()) for t in traces]
    await produce(kafka_broker.bootstrap, RAW_TRACES.name, encoded)
    await read_topic(
        kafka_broker.bootstrap, SANITIZED_PROMPTS.name,
        lambda r: len(of_dataset(r, dataset)) >= 20, 120,
    )
    service.kill()
    before_restart = of_dataset(
        await read_topic(kafka_broker.bootstrap, SANITIZED_PROMPTS.name, lambda r: True, 10),
        dataset,
    )
    assert len({p["id"] for p in before_restart}) < len(expected_ids), "killed after the end"

    restarted = SanitizerProcess(kafka_broker.bootstrap, tmp_path / "service", batch=10)
    await restarted.start()
    try:
        def done(records):
            return {p["id"] for p in of_dataset(records, dataset)} >= expected_ids

        prompts = of_dataset(
            await read_topic(kafka_broker.bootstrap, SANITIZED_PROMPTS.name, done, 180), dataset
        )
        rejected_count = sum(expected.rejected.values())
        rejections = of_dataset(
            await read_topic(
                kafka_broker.bootstrap, REJECTED.name,
                lambda r: len({x["id"] for x in of_dataset(r, dataset)}) >= rejected_count, 60,
            ),
            dataset,
        )
        async with httpx.AsyncClient(base_url=restarted.url) as client:
            report = (await client.get(f"/v1/datasets/{dataset}/sanitize-report")).json()
    finally:
        assert restarted.stop() == 0
    assert {p["id"] for p in prompts} == expected_ids
    assert all(p["messages"][-1]["role"] == "user" for p in prompts)
    distinct_rejections = {r["id"]: r["reason"] for r in rejections}
    assert Counter(distinct_rejections.values()) == Counter(expected.rejected)
    # The restarted service's report counts every trace once, whatever was re-delivered.
    assert report["input"] == expected.input
    assert report["valid"] == expected.valid
    assert report["prompts"] == expected.prompts
    assert report["rejected"] == expected.rejected


async def test_http_upload_report_and_rejected_views_survive_a_restart(kafka_broker, tmp_path):
    dataset = f"upload-{uuid.uuid4().hex[:8]}"
    real_lines = (DATA / "drone_training.jsonl").read_bytes().splitlines()[:30]
    body = b"\n".join([*real_lines, b"{this is not json", b"\xff\xfe binary", b"[1, 2, 3]"])
    service = SanitizerProcess(kafka_broker.bootstrap, tmp_path / "service")
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            upload = await client.post(f"/v1/datasets/{dataset}/traces", content=body)
            assert upload.status_code == 200, upload.text
            counts = upload.json()
            assert counts["input"] == 33
            assert counts["rejected"]["invalid_json"] == 1
            assert counts["rejected"]["invalid_utf8"] == 1
            assert counts["rejected"]["not_a_conversation"] == 1
            assert counts["valid"] == 33 - sum(counts["rejected"].values())

            page = await client.get(
                f"/v1/datasets/{dataset}/rejected", params={"reason": "invalid_json", "limit": 5}
            )
            assert page.status_code == 200
            [bad] = page.json()["items"]
            assert bad["excerpt"].startswith("{this is not json")
            assert bad["source"]["line"] == 31

            everything, cursor, pages = [], 0, 0
            while True:
                page = (await client.get(
                    f"/v1/datasets/{dataset}/rejected", params={"limit": 1, "cursor": cursor}
                )).json()
                everything += page["items"]
                pages += 1
                if page["next_cursor"] is None:
                    break
                cursor = page["next_cursor"]
            assert len(everything) == sum(counts["rejected"].values()) == pages

            too_big = await client.post(
                f"/v1/datasets/{dataset}/traces", content=b"x" * (3 * 1024 * 1024)
            )
            assert too_big.status_code == 413
            # The same upload again is the same traces: the report does not double.
            again = await client.post(f"/v1/datasets/{dataset}/traces", content=body)
            assert again.json()["input"] == 33
            before = (await client.get(f"/v1/datasets/{dataset}/sanitize-report")).json()
    finally:
        assert service.stop() == 0

    restarted = SanitizerProcess(kafka_broker.bootstrap, tmp_path / "service")
    await restarted.start()
    try:
        async with httpx.AsyncClient(base_url=restarted.url) as client:
            after = (await client.get(f"/v1/datasets/{dataset}/sanitize-report")).json()
    finally:
        restarted.stop()
    assert before["input"] == 33
    assert after == before


async def test_an_exporters_own_records_on_the_raw_topic_are_sanitized(kafka_broker, tmp_path):
    """An OTel Collector's Kafka exporter writes OTLP JSON, not the platform's envelope."""
    dataset = f"otel-{uuid.uuid4().hex[:8]}"
    span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
            "name": "chat gpt-4o", "attributes": [
                {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps([
                    {"role": "user", "parts": [{"type": "text",
                                                "content": "Book a table for two at eight"}]}
                ])}}]}
    otlp = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    service = SanitizerProcess(kafka_broker.bootstrap, tmp_path / "service")
    await service.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(RAW_TRACES.name, json.dumps(otlp).encode(),
                                            headers=[("rft-dataset", dataset.encode())])
        await producer.send_and_wait(RAW_TRACES.name, b"\xff not json",
                                     headers=[("rft-dataset", dataset.encode())])
    finally:
        await producer.stop()
    try:
        (prompt,) = of_dataset(await read_topic(
            kafka_broker.bootstrap, SANITIZED_PROMPTS.name,
            lambda r: bool(of_dataset(r, dataset)), 60), dataset)
        (rejection,) = of_dataset(await read_topic(
            kafka_broker.bootstrap, REJECTED.name, lambda r: bool(of_dataset(r, dataset)), 60),
            dataset)
        async with httpx.AsyncClient(base_url=service.url) as client:
            report = (await client.get(f"/v1/datasets/{dataset}/sanitize-report")).json()
    finally:
        assert service.stop() == 0
    assert prompt["messages"][-1]["content"] == "Book a table for two at eight"
    assert prompt["lineage"]["format"] == "otel_genai"
    source = prompt["lineage"]["source"]
    assert (source["uri"], source["partition"], source["offset"]) == (
        RAW_TRACES.name, sent.partition, sent.offset)
    assert rejection["reason"] == "invalid_utf8" and rejection["source"]["uri"] == RAW_TRACES.name
    assert (report["input"], report["valid"]) == (2, 1)
