"""A PostgreSQL outage in the generator's stage is retried, never a rejection: the generation
request becomes its job once the job store is back."""

from __future__ import annotations

from pathlib import Path

from rft_generator.job_store import open_job_store
from rft_generator.jobs import JobScheduler
from rft_generator.settings import GeneratorSettings
from rft_generator.stage import build_stage
from rft_runtime.llm import LLMSettings
from rft_runtime.postgres_local import LocalPostgres
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import VectorStore
from rft_schemas import GenerationRequest
from rft_schemas.kafka_topics import GENERATION_REQUESTS
from tests.runtime.store_outage import consumed, deliver_across_an_outage


def no_vector_store() -> VectorStore:
    raise AssertionError("the stage only stores and starts the job")


async def test_a_request_read_while_the_job_store_is_down_becomes_its_job_once_it_is_back(
    postgres_server: LocalPostgres, tmp_path: Path,
) -> None:
    (tmp_path / "categorized_prompts.jsonl").write_text("")
    settings = GeneratorSettings(
        data_dir=tmp_path, job_store_url=postgres_server.create_database("generator"),
        categorized_path=tmp_path / "categorized_prompts.jsonl",
    )
    store = open_job_store(settings.resolved_job_store_url())
    scheduler = JobScheduler(
        store, no_vector_store, lambda: LLMSettings(base_url="http://127.0.0.1:9/v1"), settings
    )
    request = GenerationRequest(id="job-1", dataset="drone", targets={"drone/camera": 2})
    stage = build_stage(RuntimeSettings(kafka_bootstrap="unused:9092", log_json=False), scheduler)
    try:
        delivery = await deliver_across_an_outage(
            stage, [consumed(GENERATION_REQUESTS.name, 0, request.id, request)], postgres_server)
    finally:
        await scheduler.stop()

    assert delivery.rejections() == []
    assert delivery.failed_calls >= 1, "the store was down: the first call fails"
    job = store.get(request.id)
    assert job is not None and job.request == request
    assert store.job_ids(list(type(job.status))) == [request.id]
    assert len(delivery.commits) == 1
