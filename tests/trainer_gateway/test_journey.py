"""A dataset's journey F to J driven by the trainer gateway through the services' APIs: the
real generator (step F from step C's file), the real grader (step G's check, step H's dry run on
the real local model) and the gateway's own training jobs (the stand-in worker), each served
over real HTTP on loopback. A service that cannot answer fails its step with the reason, and
the journey posted again goes on from there; a gateway restarted mid-training goes on without
doing a finished step again and re-attaches to its training job."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from rft_categorizer.categorized_file import write_categorized
from rft_embedder import EmbedderSettings, load_embedder
from rft_generator.service import build_service as build_generator
from rft_generator.settings import GeneratorSettings
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.service import build_service as build_grader
from rft_runtime.kafka.broker import free_port
from rft_runtime.llm import LLMSettings, LocalLLMServer
from rft_schemas import CategorizedPrompt
from rft_trainer_gateway.service import build_service as build_gateway
from rft_trainer_gateway.settings import TrainerSettings
from tests.categorizer_service.http_server import served
from tests.integration.event_stream import follow

DATASET = "drone"
STANDIN = "tests.trainer_gateway.standin_worker"
CALLS_ALIKE = {"type": "text_similarity", "name": "calls_alike",
               "evaluation_metric": "fuzzy_match", "input": "{{sample.output_text}}",
               "reference": "{{item.reference_tool_calls}}"}
TINY_TRAINING = {"max_steps": 3, "prompts_per_step": 2, "samples_per_prompt": 2,
                 "max_completion_tokens": 8, "eval_prompts": 2}


def journey_body(until: str, **options: Any) -> dict[str, Any]:
    return {"until": until, "split": {"seed": 1}, "grader": CALLS_ALIKE,
            "dry_run": {"prompt_count": 1, "samples_per_prompt": 2, "max_tokens": 8},
            **options}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("RFT_EMBEDDER_BACKEND", "onnx")  # the split's embedder: the cached export
    monkeypatch.setenv("RFT_EMBEDDER_ONNX_CACHE_DIR", str(request.config.cache.mkdir("rft-onnx")))
    monkeypatch.setenv("STANDIN_STEP_S", "0.05")
    monkeypatch.delenv("RFT_KAFKA_BOOTSTRAP", raising=False)


@asynccontextmanager
async def generator(root: Path, categorized: list[CategorizedPrompt]
                    ) -> AsyncIterator[httpx.AsyncClient]:
    (root / DATASET).mkdir(parents=True, exist_ok=True)
    write_categorized(root / DATASET / "categorized_prompts.jsonl", categorized)  # step C's
    settings = GeneratorSettings(data_dir=root, log_json=False)
    embedder = load_embedder(EmbedderSettings(), root)  # the split's, handed in as the CLI does
    app, _, _ = build_generator(settings, LLMSettings(base_url="http://127.0.0.1:9/v1"),
                                embedder=embedder)
    async with served(app, settings) as client:
        yield client


@asynccontextmanager
async def grader(root: Path, llm: LocalLLMServer, port: int) -> AsyncIterator[httpx.AsyncClient]:
    settings = DryRunSettings(data_dir=root, log_json=False)  # no broker: rollouts in process
    app, _, _ = build_grader(settings, LLMSettings(base_url=llm.base_url))
    async with served(app, settings, port) as client:
        yield client


@asynccontextmanager
async def gateway(root: Path, generator_url: str, grader_url: str
                  ) -> AsyncIterator[httpx.AsyncClient]:
    settings = TrainerSettings(
        data_dir=root, log_json=False, trainer_worker_module=STANDIN,
        trainer_poll_interval_s=0.1, trainer_journey_poll_s=0.1, trainer_replica_id="gw-0",
        trainer_generator_url=generator_url, trainer_grader_url=grader_url)
    app, _, _ = build_gateway(settings, registry=CollectorRegistry())
    async with served(app, settings) as client:
        yield client


@asynccontextmanager
async def restartable(
    tmp_path: Path, categorized: list[CategorizedPrompt], local_llm: LocalLLMServer
) -> AsyncIterator[tuple[httpx.AsyncClient, tuple[Path, str, str]]]:
    """The generator and the grader served for a whole test, and the arguments of
    :func:`gateway` for gateways started and stopped against them."""
    async with generator(tmp_path / "generator", categorized) as gen, \
            grader(tmp_path / "grader", local_llm, free_port()) as grade:
        yield grade, (tmp_path / "gateway", str(gen.base_url), str(grade.base_url))


async def post_journey(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    posted = await client.post(f"/v1/datasets/{DATASET}/journey", json=body)
    assert posted.status_code == 202, posted.text


async def journey_until(client: httpx.AsyncClient, done: Any, timeout_s: float = 120,
                        dataset: str = DATASET) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await client.get(f"/v1/datasets/{dataset}/journey")
        assert answer.status_code == 200, answer.text
        journey: dict[str, Any] = answer.json()
        if done(journey):
            return journey
        assert time.monotonic() < deadline, journey
        await asyncio.sleep(0.1)


def steps(journey: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["step"]: step for step in journey["steps"]}


def ended(journey: dict[str, Any]) -> bool:
    return journey["status"] != "running"


async def test_a_failing_service_names_its_step_and_the_journey_posted_again_reaches_a_verdict(
    tmp_path: Path, env: None, categorized: list[CategorizedPrompt], local_llm: LocalLLMServer,
) -> None:
    grader_port = free_port()
    grader_url = f"http://127.0.0.1:{grader_port}"
    async with generator(tmp_path / "generator", categorized) as gen, \
            gateway(tmp_path / "gateway", str(gen.base_url), grader_url) as gw:
        assert (await gw.get(f"/v1/datasets/{DATASET}/journey")).status_code == 404
        assert (await gw.get(f"/v1/datasets/{DATASET}/journey/events")).status_code == 404
        wrong = await gw.post(f"/v1/datasets/{DATASET}/journey", json={"until": "K"})
        assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "until"]
        # A dataset the generator does not have: step F fails with the generator's answer.
        await gw.post("/v1/datasets/bank/journey", json=journey_body("H"))
        bank = await journey_until(gw, ended, dataset="bank")
        assert bank["status"] == "failed" and steps(bank)["F"]["status"] == "failed"
        assert steps(bank)["F"]["reason"].startswith(
            f"the generator at {str(gen.base_url).rstrip('/')} answered 409 to POST "
            "/v1/datasets/bank/split: no categorized prompts for dataset 'bank'")
        posted = await gw.post(f"/v1/datasets/{DATASET}/journey", json=journey_body("H"))
        assert posted.status_code == 202, posted.text
        failed = await journey_until(gw, ended)
        assert failed["status"] == "failed"
        by_step = steps(failed)
        assert by_step["F"]["status"] == "done"
        split = (await gen.get(f"/v1/datasets/{DATASET}/split", params={"rows": "false"})).json()
        assert by_step["F"]["split"]["train_rows"] == split["train_rows"] > 0
        assert by_step["F"]["split"]["counts"] == split["manifest"]["counts"]
        assert by_step["G"]["status"] == "failed"
        assert by_step["G"]["reason"].startswith(f"the grader at {grader_url} cannot be reached")
        assert by_step["H"]["status"] == "pending"

        async with grader(tmp_path / "grader", local_llm, grader_port) as grade:
            again = await gw.post(f"/v1/datasets/{DATASET}/journey", json=journey_body("H"))
            assert again.status_code == 202, again.text
            # followed by its event stream this time: each change, then the final state
            *changes, final = await follow(gw, f"/v1/datasets/{DATASET}/journey/events", 180)
            done = (await gw.get(f"/v1/datasets/{DATASET}/journey")).json()
            assert {e.event for e in changes} <= {"progress"} and final.event == "done"
            assert json.loads(final.data) == done
            assert done["status"] == "done", done
            by_step = steps(done)
            dry_run = by_step["H"]["dry_run"]
            report = (await grade.get(f"/v1/dry-runs/{dry_run['job_id']}")).json()["report"]
        resplit = (await gen.get(f"/v1/datasets/{DATASET}/split",
                                 params={"rows": "false"})).json()
    assert by_step["F"]["finished_at"] == steps(failed)["F"]["finished_at"], "F not redone"
    assert resplit["created_at"] == split["created_at"]
    assert by_step["G"]["grader"]["name"] == "calls_alike"
    assert by_step["G"]["grader"]["source"] == "request"
    assert (dry_run["done"], dry_run["total"]) == (2, 2)  # N=1 prompt x k=2 samples
    assert dry_run["verdict"] == report["verdict"] and dry_run["reasons"] == report["reasons"]
    assert dry_run["mean"] == report["stats"]["mean"]
    assert [by_step[s]["status"] for s in "IJ"] == ["pending", "pending"]  # until H


async def test_a_gateway_restarted_mid_training_goes_on_without_redoing_a_finished_step(
    tmp_path: Path, env: None, categorized: list[CategorizedPrompt], local_llm: LocalLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hold = tmp_path / "hold"
    hold.touch()  # the stand-in worker waits before each step while this file exists
    monkeypatch.setenv("STANDIN_HOLD", str(hold))
    body = journey_body("J", hyperparameters=TINY_TRAINING)
    async with restartable(tmp_path, categorized, local_llm) as (grade, gateway_args):
        async with gateway(*gateway_args) as gw:
            await post_journey(gw, body)
            training = await journey_until(gw, lambda j: ended(j) or (
                steps(j)["I"]["training"] or {}).get("status") == "running")
            busy = await gw.post(f"/v1/datasets/{DATASET}/journey", json=body)
            assert busy.status_code == 409 and "running" in busy.json()["detail"]
        # The gateway is gone; the training process it started goes on, held.
        before = steps(training)
        assert [before[s]["status"] for s in "FGHI"] == ["done", "done", "done", "running"]
        job_id = before["I"]["training"]["job_id"]

        async with gateway(*gateway_args) as gw:
            resumed = steps((await gw.get(f"/v1/datasets/{DATASET}/journey")).json())
            assert resumed["I"]["status"] == "running"
            hold.unlink()
            done = await journey_until(gw, ended)
            jobs = (await gw.get("/v1/training-jobs")).json()["data"]
        dry_runs = (await grade.get(f"/v1/dry-runs/{before['H']['dry_run']['job_id']}")).json()
    assert done["status"] == "done", done
    after = steps(done)
    for letter in "FGH":  # finished before the restart: not done again
        assert after[letter]["finished_at"] == before[letter]["finished_at"]
        assert after[letter]["started_at"] == before[letter]["started_at"]
    assert after["H"]["dry_run"] == before["H"]["dry_run"]
    assert dry_runs["status"] == "done"
    [job] = jobs  # one training job: re-attached, not submitted again
    assert job["id"] == job_id == after["I"]["training"]["job_id"]
    assert job["status"] == "succeeded" and job["attempts"] == 1, job
    assert after["I"]["training"]["status"] == "succeeded"
    assert after["I"]["training"]["step"] == after["I"]["training"]["total_steps"] == 3
    results = after["J"]["results"]
    assert results["job_id"] == job_id and results["deployable"] is False
    assert results["gate_reasons"] == ["the change's interval includes zero"]  # the worker's
    assert results["deployed_model"] is None  # no deploy asked


async def test_a_gateway_restarted_mid_dry_run_follows_the_same_dry_run_to_its_verdict(
    tmp_path: Path, env: None, categorized: list[CategorizedPrompt], local_llm: LocalLLMServer,
) -> None:
    body = {**journey_body("H"),
            "dry_run": {"prompt_count": 4, "samples_per_prompt": 2, "max_tokens": 48}}
    async with restartable(tmp_path, categorized, local_llm) as (grade, gateway_args):
        async with gateway(*gateway_args) as gw:
            await post_journey(gw, body)
            rolling = await journey_until(gw, lambda j: ended(j) or (
                steps(j)["H"]["status"] == "running" and steps(j)["H"]["dry_run"] is not None))
        # The gateway is gone mid-H; the grader goes on rolling out the dry run it was given.
        before = steps(rolling)
        assert [before[s]["status"] for s in "FGH"] == ["done", "done", "running"]
        job_id = before["H"]["dry_run"]["job_id"]

        async with gateway(*gateway_args) as gw:
            done = await journey_until(gw, ended, timeout_s=240)
        report = (await grade.get(f"/v1/dry-runs/{job_id}")).json()["report"]
    assert done["status"] == "done", done
    after = steps(done)
    for letter in "FGH":  # not started again: H re-attached to its dry run
        assert after[letter]["started_at"] == before[letter]["started_at"]
    dry_run = after["H"]["dry_run"]
    assert dry_run["job_id"] == job_id
    assert (dry_run["done"], dry_run["total"]) == (8, 8)  # N=4 prompts x k=2 samples
    assert dry_run["verdict"] == report["verdict"] and dry_run["reasons"] == report["reasons"]
