"""The journey in the cluster past step D: the generator service reads a dataset's categorized
records and coverage from the categorizer service's API (both served over real HTTP on loopback
ports, the real embedder, Qdrant Edge shared as the cluster shares Qdrant), with no file of the
CLI anywhere."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from rft_embedder import Embedder
from rft_generator.job_store import open_job_store
from rft_generator.jobs import JobScheduler
from rft_generator.pool import targets_from_coverage
from rft_generator.service import build_service as build_generator
from rft_generator.settings import GeneratorSettings
from rft_generator.sources import CategorizerAPI, CategorizerUnavailable, DatasetNotReady
from rft_generator.stage import build_stage
from rft_runtime.kafka.stage import Inbound, TransientError
from rft_runtime.llm import LLMSettings
from rft_runtime.settings import RuntimeSettings
from rft_schemas import CategorizedPrompt, CoverageReport, GenerationRequest
from rft_schemas.kafka_topics import GENERATION_REQUESTS
from tests.categorizer_service.fixtures import DRONE_TOPICS
from tests.categorizer_service.http_server import served
from tests.generator.categorizer_service import categorizer_holding
from tests.generator.embedder_service import embedder_service

DATASET = "drone-cluster"
CLI_FILES = ("categorized_prompts.jsonl", "coverage.json")


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def cli_files_under(root: Path) -> list[Path]:
    return [path for name in CLI_FILES for path in root.rglob(name)]


async def test_the_generator_service_plans_the_gaps_of_a_dataset_the_categorizer_categorized(
    tmp_path: Path, embedder: Embedder, categorized: list[CategorizedPrompt],
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    holding = await categorizer_holding(DATASET, tmp_path, embedder, categorized, monkeypatch,
                                        request)
    categorizer_app, categorizer_settings = holding.app, holding.settings
    qdrant, topics = holding.qdrant, holding.topics
    try:
        # as in the cluster: records from the categorizer's API, vectors from the embedder's
        async with served(categorizer_app, categorizer_settings) as categorizer, \
                embedder_service(embedder, tmp_path) as embedder_url:
            assert (await categorizer.get(f"/v1/datasets/{DATASET}/categorized")).status_code \
                == 404  # no hierarchy yet: nothing is categorized
            put = await categorizer.put(f"/v1/datasets/{DATASET}/topics", json=DRONE_TOPICS)
            assert put.status_code == 200, put.text
            coverage = CoverageReport.model_validate(
                (await categorizer.get(f"/v1/datasets/{DATASET}/coverage")).json())
            gaps = targets_from_coverage(coverage)
            assert gaps, "the drone prompts leave some topic below its target"

            # The API adapter pages through every record the categorizer's store holds.
            api = CategorizerAPI(str(categorizer.base_url), page_size=7)
            read = await asyncio.to_thread(api.categorized, DATASET)
            stored = await asyncio.to_thread(topics.records.categorized, DATASET)
            assert read == stored and len(read) == len(categorized) > 7

            settings = GeneratorSettings(
                data_dir=tmp_path / "generator", categorizer_url=str(categorizer.base_url),
                embedder_url=embedder_url, log_json=False,
            )
            dead_llm = LLMSettings(base_url=f"{closed_port_url()}/v1", max_retries=1,
                                   backoff_base_s=0.01)
            generator_app, _, _ = build_generator(settings, dead_llm, vector_store=qdrant)
            async with served(generator_app, settings) as generator:
                unknown = await generator.post(
                    "/v1/generation-jobs", json={"id": "elsewhere", "dataset": "bank"})
                assert unknown.status_code == 409
                assert "no categorized prompts for dataset 'bank'" in unknown.text

                submitted = await generator.post(
                    "/v1/generation-jobs", json={"id": "gaps", "dataset": DATASET})
                assert submitted.status_code == 202, submitted.text
                planned = {t["topic"]: t["target"] for t in submitted.json()["topics"]}
                assert planned == gaps  # coverage's recommendation, from the categorizer

                # The job builds its few-shot pools from the categorizer's records and gets as
                # far as the LLM, which is down: a failed job, resumable, not a missing dataset.
                deadline = asyncio.get_running_loop().time() + 60
                while (job := (await generator.get("/v1/generation-jobs/gaps")).json()["job"]
                       )["status"] in ("queued", "running"):
                    assert asyncio.get_running_loop().time() < deadline, job
                    await asyncio.sleep(0.1)
                assert job["status"] == "failed"
                assert dead_llm.base_url is not None and dead_llm.base_url in job["error"]
    finally:
        qdrant.close()
    assert cli_files_under(tmp_path) == []


async def test_a_categorizer_that_cannot_answer_is_retried_not_a_rejected_request(
    tmp_path: Path,
) -> None:
    settings = GeneratorSettings(data_dir=tmp_path, categorizer_url=closed_port_url(),
                                 embedder_url=closed_port_url(), log_json=False)
    with pytest.raises(CategorizerUnavailable):
        CategorizerAPI(settings.categorizer_url or "").coverage(DATASET)
    scheduler = JobScheduler(
        open_job_store(settings.resolved_job_store_url()), vector_store=lambda: None,
        llm=LLMSettings, settings=settings,
    )
    assert isinstance(scheduler.source, CategorizerAPI)
    request = GenerationRequest(id="later", dataset=DATASET, targets={"drone/camera": 2})
    stage = build_stage(RuntimeSettings(kafka_bootstrap="unused:9092", log_json=False), scheduler)
    with pytest.raises(TransientError, match="the categorizer at"):
        await stage.handler([Inbound(request, request.id, GENERATION_REQUESTS.name, 0, 0)])
    assert scheduler.store.get("later") is None  # nothing stored: the retry creates the job

    app, _, _ = build_generator(settings, LLMSettings(base_url="http://127.0.0.1:9/v1"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://generator") as client:
        answer = await client.post("/v1/generation-jobs", json=request.model_dump(mode="json"))
    assert answer.status_code == 503 and "the categorizer at" in answer.text


def test_without_a_categorizer_url_the_service_reads_the_files_of_steps_c_and_d(
    tmp_path: Path,
) -> None:
    """One machine (and the CLI): categorized_prompts.jsonl and coverage.json, as before."""
    scheduler = JobScheduler(
        open_job_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}"), vector_store=lambda: None,
        llm=LLMSettings, settings=GeneratorSettings(data_dir=tmp_path),
    )
    with pytest.raises(DatasetNotReady, match="no categorized prompts for dataset 'drone' at "):
        scheduler.source.require("drone")
    (tmp_path / "drone").mkdir()
    (tmp_path / "drone" / "categorized_prompts.jsonl").write_text("")
    scheduler.source.require("drone")
    assert scheduler._categorized("drone") == []
