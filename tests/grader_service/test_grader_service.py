"""The grader as a service (`python -m rft_grader`): durable dry runs over the real broker
with a worker killed mid-run, and the HTTP API over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from rft_sanitizer import SanitizerSettings, sanitize_files
from rft_schemas.kafka_topics import ROLLOUTS_SCORED
from tests.dryrun.verdict_rules import assert_verdict_follows_the_table
from tests.integration.event_stream import follow
from tests.integration.kafka_io import read_topic
from tests.integration.service_process import ServiceProcess

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
SIMILARITY = {"type": "text_similarity", "name": "calls_alike", "evaluation_metric":
              "fuzzy_match", "input": "{{sample.output_text}}",
              "reference": "{{item.reference_tool_calls}}"}


class GraderProcess(ServiceProcess):
    def __init__(self, data_dir: Path, llm_url: str, bootstrap: str | None = None) -> None:
        super().__init__("rft_grader", {
            "RFT_DATA_DIR": str(data_dir), "RFT_LLM_BASE_URL": llm_url,
            "RFT_KAFKA_BATCH_MAX_RECORDS": "2", "RFT_LOG_LEVEL": "WARNING",
        })
        self.env.pop("RFT_KAFKA_BOOTSTRAP", None)
        if bootstrap:
            self.env["RFT_KAFKA_BOOTSTRAP"] = bootstrap


@pytest.fixture(scope="module")
def drone_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("sanitized")
    sanitize_files([DATA / "drone_training.jsonl"], out,
                   SanitizerSettings(dataset="drone", data_dir=out / "state"))
    return [json.loads(line) for line in (out / "sanitized_prompts.jsonl").open()]


async def wait_done(client: httpx.AsyncClient, job_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = (await client.get(f"/v1/dry-runs/{job_id}")).json()
        if job["status"] == "done":
            return job
        await asyncio.sleep(0.3)
    raise TimeoutError(f"dry run {job_id} not done: {job}")


def of_job(records: list[tuple[str, bytes]], job_id: str) -> list[dict[str, Any]]:
    return [s for s in (json.loads(v) for _, v in records) if s["job_id"] == job_id]


@pytest.mark.broker
async def test_streaming_dry_run_survives_a_killed_worker_without_double_counting(
        kafka_broker, local_llm, drone_records, tmp_path):
    body = {"dataset": f"drone-{uuid.uuid4().hex[:6]}", "prompts": drone_records,
            "grader": SIMILARITY, "prompt_count": 6, "samples_per_prompt": 2, "max_tokens": 8}
    service = GraderProcess(tmp_path / "state", local_llm.base_url, kafka_broker.bootstrap)
    await service.start()
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        created = await client.post("/v1/dry-runs", json=body)
        assert created.status_code == 202, created.text
        job = created.json()
    job_id = job["id"]
    assert job["total"] == 12 and job["status"] == "running"
    await read_topic(kafka_broker.bootstrap, ROLLOUTS_SCORED.name,
                     lambda r: len(of_job(r, job_id)) >= 1, 120)
    service.kill()
    before = of_job(await read_topic(kafka_broker.bootstrap, ROLLOUTS_SCORED.name,
                                     lambda r: True, 10), job_id)
    assert len({s["rollout_id"] for s in before}) < 12, "killed after the end"

    restarted = GraderProcess(tmp_path / "state", local_llm.base_url, kafka_broker.bootstrap)
    await restarted.start()
    try:
        async with httpx.AsyncClient(base_url=restarted.url, timeout=60) as client:
            done = await wait_done(client, job_id, 180)
            again = await client.post("/v1/dry-runs", json=body)
    finally:
        assert restarted.stop() == 0
    report = done["report"]
    ids = [s["rollout_id"] for s in report["samples"]]
    assert done["done"] == 12 and len(ids) == len(set(ids)) == 12
    assert {i.rsplit(":", 1)[1] for i in ids} == {"0", "1"}
    assert report["prompts"] == 6 and report["stats"]["count"] + report["failed_rollouts"] == 12
    assert again.json()["id"] == job_id and again.json()["status"] == "done", "same job"
    scored = of_job(await read_topic(kafka_broker.bootstrap, ROLLOUTS_SCORED.name,
                                     lambda r: True, 10), job_id)
    # At-least-once: only the batch in flight at the kill (2 records) may be scored twice.
    assert len(scored) <= 12 + 2
    written = tmp_path / "state" / "grader" / "dry-runs" / job_id
    assert json.loads((written / "dry_run_report.json").read_text())["id"] == job_id
    assert (written / "dry_run.png").is_file()


async def test_http_api_validates_runs_graders_and_runs_a_dry_run_in_process(
        local_llm, drone_records, tmp_path):
    service = GraderProcess(tmp_path / "state", local_llm.base_url)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            bad = {"type": "multi", "name": "m", "calculate_output": "a * 2 + b",
                   "graders": {"a": {"type": "string_check", "name": "a", "operation": "eq",
                                     "input": "{{sample.output_text}}",
                                     "reference": "{{item.answer}}"}}}
            checked = (await client.post("/v1/graders:validate", json={"grader": bad})).json()
            [issue] = checked["issues"]
            assert issue["path"] == "$.calculate_output" and issue["code"] == "unknown_name"
            fields = await client.post("/v1/graders:validate", json={
                "grader": bad["graders"]["a"], "dataset_fields": ["question"]})
            assert [i["path"] for i in fields.json()["issues"]] == ["$.reference"]

            ran = await client.post("/v1/graders:run", json={
                "grader": {"type": "multi", "name": "m", "calculate_output": "0.5 * a + 0.5",
                           "graders": {"a": bad["graders"]["a"]}},
                "model_sample": "Paris", "item": {"answer": "Paris"}})
            assert ran.status_code == 200, ran.text
            answer = ran.json()
            assert answer["reward"] == 1.0 and answer["sub_rewards"] == {"a": 1.0}
            assert answer["metadata"]["errors"]["invalid_variable_error"] is False
            missing = (await client.post("/v1/graders:run", json={
                "grader": bad["graders"]["a"], "model_sample": "Paris", "item": {}})).json()
            assert missing["reward"] == 0.0
            assert missing["metadata"]["errors"]["invalid_variable_error"] is True
            refused = await client.post("/v1/graders:run", json={
                "grader": bad, "model_sample": "x", "item": {}})
            assert refused.status_code == 400
            assert refused.json()["issues"][0]["path"] == "$.calculate_output"
            unknown = await client.post("/v1/graders:run", json={
                "grader": {"type": "telepathy", "name": "t"}, "model_sample": "x"})
            assert unknown.status_code == 422

            # Red team: a grader that checks the answer only contains the right word is paid
            # by an answer that copies a prompt which already names it.
            contains = {"type": "string_check", "name": "contains", "operation": "ilike",
                        "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
            row = {"messages": [{"role": "user", "content": "Is the capital of France Paris?"}],
                   "answer": "Paris"}
            teamed = await client.post("/v1/graders:red-team",
                                       json={"grader": contains, "items": [row]})
            assert teamed.status_code == 200, teamed.text
            exploits = {e["kind"]: e for e in teamed.json()["exploits"]}
            assert teamed.json()["flagged"] and exploits["prompt_copy"]["flagged"]
            assert "France" in exploits["prompt_copy"]["best_paid_answer"]
            assert not exploits["empty"]["flagged"] and not exploits["refusal"]["flagged"]
            bad_team = await client.post("/v1/graders:red-team",
                                         json={"grader": bad, "items": [row]})
            assert bad_team.status_code == 400

            assert (await client.get("/v1/dry-runs/dr-nope")).status_code == 404
            no_go = await client.post("/v1/dry-runs", json={
                "dataset": "d", "prompts": drone_records, "grader": bad})
            assert no_go.status_code == 422 and no_go.json()["issues"]
            junk = await client.post("/v1/dry-runs", json={
                "dataset": "d", "prompts": [{"nope": 1}], "grader": SIMILARITY})
            assert junk.status_code == 422
            assert junk.json()["issues"][0]["path"] == "$.prompts[0]"

            created = await client.post("/v1/dry-runs", json={
                "dataset": "d", "prompts": drone_records, "grader": SIMILARITY,
                "prompt_count": 2, "samples_per_prompt": 2, "max_tokens": 8})
            assert created.status_code == 202, created.text
            events = await follow(client, f"/v1/dry-runs/{created.json()['id']}/events", 120)
            done = (await client.get(f"/v1/dry-runs/{created.json()['id']}")).json()
            assert (await client.get("/v1/dry-runs/dr-nope/events")).status_code == 404
    finally:
        assert service.stop() == 0
    assert done["total"] == done["done"] == 4
    assert_verdict_follows_the_table(done["report"])
    assert len(done["report"]["samples"]) == 4
    # The event stream: the progress as rollouts were scored, then the report, then its end.
    *progress, final = events
    assert {e.event for e in progress} <= {"progress"} and final.event == "done"
    scored = [json.loads(e.data)["done"] for e in progress]
    assert scored == sorted(set(scored))  # each change once, never backwards
    assert json.loads(final.data) == done
