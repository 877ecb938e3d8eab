"""``python -m rft_generator`` on the real broker and the real local model: a request from
rft.generation.requests.v1 becomes a job; SIGKILL mid-job and a restart finish it with the same
count and no prompt written twice; accepted prompts reach rft.prompts.sanitized.v1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from rft_categorizer.categorized_file import write_categorized
from rft_embedder import Embedder
from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.llm import LocalLLMServer
from rft_schemas import CategorizedPrompt, GenerationRequest, SanitizedPrompt, SyntheticPrompt
from rft_schemas.kafka_topics import GENERATION_REQUESTS, SANITIZED_PROMPTS
from tests.generator.embedder_service import embedder_service
from tests.integration.event_stream import follow
from tests.integration.kafka_io import produce, read_topic
from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.broker


class GeneratorProcess(ServiceProcess):
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("rft_generator", env, ready_within=120)

    def stop(self, timeout: float = 60.0) -> int | None:
        return super().stop(timeout)


async def job_state(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def test_service_killed_mid_job_resumes_on_restart_without_writing_a_prompt_twice(
    tmp_path: Path, kafka_broker: LocalBroker, local_llm: LocalLLMServer,
    categorized: list[CategorizedPrompt], embedder: Embedder,
) -> None:
    (tmp_path / "drone").mkdir()
    write_categorized(tmp_path / "drone" / "categorized_prompts.jsonl", categorized)
    async with embedder_service(embedder, tmp_path / "embedder") as embedder_url:
        await _kill_and_resume(tmp_path, kafka_broker, local_llm, embedder_url)


async def _kill_and_resume(tmp_path: Path, kafka_broker: LocalBroker, local_llm: LocalLLMServer,
                           embedder_url: str) -> None:
    env = {
        "RFT_KAFKA_BOOTSTRAP": kafka_broker.bootstrap, "RFT_DATA_DIR": str(tmp_path),
        "RFT_LLM_BASE_URL": local_llm.base_url, "RFT_LOG_LEVEL": "WARNING",
        # its vectors, over HTTP as in the cluster: the generator has no model
        "RFT_GENERATOR_EMBEDDER_URL": embedder_url,
    }
    generation = GenerationRequest(
        id="svc-1", dataset="drone", targets={"drone/camera": 3}, max_tokens=40,
        candidates_per_request=2, max_attempts_per_prompt=10, temperature=0.7, seed=9,
    )
    service = GeneratorProcess(env)
    await service.start()
    try:
        await produce(kafka_broker.bootstrap, GENERATION_REQUESTS.name,
                      [(generation.id, generation.model_dump_json().encode())])
        job_url = f"{service.url}/v1/generation-jobs/svc-1"
        async with httpx.AsyncClient(timeout=30) as client:
            deadline = asyncio.get_running_loop().time() + 240
            while True:  # kill as soon as the first round is recorded
                response = await client.get(job_url)
                if response.status_code == 200 and response.json()["topics"][0]["attempts"]:
                    break
                assert asyncio.get_running_loop().time() < deadline, response.text
                await asyncio.sleep(0.1)
            service.kill()
            killed_at = response.json()
            assert killed_at["job"]["status"] == "running"
            assert killed_at["topics"][0]["generated"] < 3

            service = GeneratorProcess(env)
            await service.start()  # resumes the running job by itself
            job_url = f"{service.url}/v1/generation-jobs/svc-1"
            # Followed to its end by the job's event stream: the progress, then the final state.
            *progress, final = await follow(client, f"{job_url}/events", 480)
            state = await job_state(client, job_url)
            assert {e.event for e in progress} <= {"progress"} and final.event == "done"
            assert json.loads(final.data) == state
            generated = [json.loads(e.data)["topics"][0]["generated"] for e in progress]
            assert generated == sorted(generated) and generated[0] < 3
            assert state["job"]["status"] == "succeeded", state["job"]["error"]
            assert state["topics"][0]["generated"] == 3
            assert "drone/camera:" in state["screen"]
            assert (await client.get(f"{service.url}/v1/generation-jobs/nope")).status_code == 404
            missing = await client.post(f"{service.url}/v1/generation-jobs",
                                        json={"id": "x", "dataset": "elsewhere"})
            assert missing.status_code == 409 and "no categorized prompts" in missing.text
    finally:
        service.stop()

    output = tmp_path / "generator" / "svc-1" / "synthetic_prompts.jsonl"
    kept = [SyntheticPrompt.model_validate_json(x) for x in output.read_text().splitlines()]
    assert len(kept) == 3 and len({s.prompt.id for s in kept}) == 3
    assert len({s.prompt.messages[-1].text().lower() for s in kept}) == 3
    ids = {s.prompt.id for s in kept}

    def synthetic_ids(records: list[tuple[str, bytes]]) -> set[str]:
        prompts = [SanitizedPrompt.model_validate(json.loads(v)) for _, v in records]
        return {p.id for p in prompts if p.origin == "synthetic"}

    streamed = await read_topic(kafka_broker.bootstrap, SANITIZED_PROMPTS.name,
                                lambda records: ids <= synthetic_ids(records), timeout_s=60)
    assert synthetic_ids(streamed) == ids  # re-sends after the kill are upserts by key
