"""The grader service stays alive under CPU-heavy grading: text-similarity metrics run off the
event loop, so /healthz answers while two large rouge_l gradings run (on the loop it took
2.6 s, and the liveness probe gives up at 3 s). Its own process, loopback only, bounded."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import httpx

from rft_runtime.kafka.broker import free_port
from tests.integration.service_process import ServiceProcess

MAX_CHARS = 14000  # rouge_l on two 14,000-character texts: 3-6 s of pure Python on 2 cores
HEALTHZ_BOUND_S = 1.0


def words_text(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join("".join(rng.choice("abcdefghij") for _ in range(4)) for _ in range(3000))


def rouge_request(text: str, reference: str) -> dict[str, object]:
    return {
        "grader": {"type": "text_similarity", "name": "r", "evaluation_metric": "rouge_l",
                   "input": "{{sample.output_text}}", "reference": "{{item.reference}}"},
        "model_sample": text,
        "item": {"reference": reference},
    }


async def test_healthz_answers_fast_while_two_rouge_l_gradings_run(tmp_path: Path) -> None:
    service = ServiceProcess("rft_grader", {
        "RFT_DATA_DIR": str(tmp_path),
        # no judge is used; an address nothing listens on keeps the local model from starting
        "RFT_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "RFT_GRADER_METRIC_MAX_CHARS": str(MAX_CHARS),
        "RFT_LOG_LEVEL": "WARNING",
    })
    service.env.pop("RFT_KAFKA_BOOTSTRAP", None)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
            warm = await client.post("/v1/graders:run", json=rouge_request("a b", "a c"))
            assert warm.status_code == 200, warm.text

            async def heavy(seed: int) -> float:
                began = time.monotonic()
                answer = await client.post("/v1/graders:run", json=rouge_request(
                    words_text(seed), words_text(seed + 1)))
                assert answer.status_code == 200, answer.text
                assert 0.0 < answer.json()["reward"] < 1.0
                return time.monotonic() - began

            gradings = asyncio.gather(heavy(1), heavy(3))
            latencies = []
            await asyncio.sleep(0.2)  # both gradings under way
            async with httpx.AsyncClient(base_url=service.url, timeout=10) as probe:
                while not gradings.done():
                    began = time.monotonic()
                    assert (await probe.get("/healthz")).status_code == 200
                    latencies.append(time.monotonic() - began)
                    await asyncio.sleep(0.05)
            durations = await gradings
    finally:
        assert service.stop() == 0
    # the load was real: on the event loop each grading would have held /healthz this long
    assert min(durations) > 2 * HEALTHZ_BOUND_S, durations
    assert len(latencies) >= 5
    assert max(latencies) < HEALTHZ_BOUND_S, (max(latencies), durations)
