"""A PostgreSQL outage in the grader's stages is retried, never a rejection: the rollout is
scored, and the score recorded, once the job store is back."""

from __future__ import annotations

from pathlib import Path

import httpx

from rft_grader.dryrun.durable_jobs import DryRunJobs
from rft_grader.dryrun.rollouts import GraderCache
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.jobs import JobSpec, JobStore
from rft_grader.stage import build_jobs_stage, build_worker_stage
from rft_runtime.llm import LLMClient
from rft_runtime.postgres_local import LocalPostgres
from rft_runtime.settings import RuntimeSettings
from rft_schemas.conversation import Message
from rft_schemas.kafka_topics import ROLLOUT_REQUESTS, ROLLOUTS_SCORED
from rft_schemas.rollouts import RolloutRequest, Score
from tests.runtime.store_outage import consumed, deliver_across_an_outage

EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
         "reference": "{{item.reference}}", "operation": "eq"}
RUNTIME = RuntimeSettings(kafka_bootstrap="unused:9092", log_json=False)


def answering(content: str) -> httpx.MockTransport:
    """An OpenAI-compatible endpoint that answers every chat completion with ``content``."""
    return httpx.MockTransport(lambda _: httpx.Response(200, json={
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }))


def rollout(job: str, index: int) -> RolloutRequest:
    return RolloutRequest(
        id=f"{job}:p:{index}", job_id=job, prompt_id="p", sample_index=index, model="m",
        messages=[Message(role="user", content="What is 2 + 2? Answer with a number.")],
        item={"reference": "4"}, grader=EXACT)


async def test_a_worker_whose_job_store_is_down_retries_and_scores_the_rollout_once_it_is_back(
    postgres_server: LocalPostgres,
) -> None:
    store = JobStore(postgres_server.create_database("worker"))
    client = LLMClient(base_url="http://llm.test/v1", transport=answering("4"))
    graders = GraderCache()
    request = rollout("job", 0)
    stage = build_worker_stage(RUNTIME, client, graders, store)
    try:
        delivery = await deliver_across_an_outage(
            stage, [consumed(ROLLOUT_REQUESTS.name, 3, request.id, request)], postgres_server)
    finally:
        graders.close()
        await client.aclose()

    assert delivery.rejections() == []
    assert delivery.failed_calls >= 1, "the store was down: the first call fails"
    assert delivery.keys_on(ROLLOUTS_SCORED.name) == [request.id]
    [(_, _, body)] = delivery.acked
    assert Score.model_validate_json(body).reward == 1.0
    assert [{tp.topic: offset for tp, offset in c.items()} for c in delivery.commits] == [
        {ROLLOUT_REQUESTS.name: 4}]


async def test_scores_read_while_the_job_store_is_down_are_recorded_once_it_is_back(
    postgres_server: LocalPostgres, tmp_path: Path,
) -> None:
    store = JobStore(postgres_server.create_database("jobs"))
    requests = [rollout("job", i) for i in range(2)]
    store.create("job", JobSpec(dataset="d", model="m", grader_name="exact",
                                samples_per_prompt=2), requests)
    client = LLMClient(base_url="http://llm.test/v1", transport=answering("4"))
    jobs = DryRunJobs(store, DryRunSettings(log_json=False), client, GraderCache(), None,
                      tmp_path / "out")
    scores = [Score(rollout_id=r.id, job_id="job", prompt_id="p", sample_index=r.sample_index,
                    reward=1.0) for r in requests]
    try:
        delivery = await deliver_across_an_outage(
            build_jobs_stage(RUNTIME, jobs),
            [consumed(ROLLOUTS_SCORED.name, i, s.rollout_id, s) for i, s in enumerate(scores)],
            postgres_server)
    finally:
        await jobs.stop()
        await client.aclose()

    assert delivery.rejections() == []
    assert delivery.failed_calls >= 1
    assert store.progress("job") == (2, 2)
    job = store.get("job")
    assert job is not None and job.report is not None, "the complete job was finished"
    assert len(delivery.commits) == 1
