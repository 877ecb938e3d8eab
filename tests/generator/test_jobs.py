"""Generation jobs against the real local model (SmolLM2-135M) on the real drone prompts."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rft_embedder import Embedder, EmbedderSettings, prompt_collection_spec, task_text
from rft_embedder.core import embedding_key
from rft_generator import GeneratorSettings, open_job_store, run_generation
from rft_generator.validation import quality_check
from rft_runtime.llm import LLMSettings, LocalLLMServer
from rft_runtime.vectorstore import VectorStore, point_id
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_sanitizer import Policy
from rft_schemas import (
    CategorizedPrompt,
    GenerationFailure,
    GenerationRequest,
    JobStatus,
    QualitySettings,
    RejectionReason,
    SanitizedPrompt,
    SyntheticPrompt,
)

KNOWN_REASONS = {r.value for r in GenerationFailure} | {r.value for r in RejectionReason}
CAMERA = "drone/camera"


@pytest.fixture
def vector_store(tmp_path: Path) -> Iterator[VectorStore]:
    store = EdgeVectorStore(tmp_path / "qdrant")
    yield store
    store.close()


def request(job_id: str, target: int, per_request: int) -> GenerationRequest:
    return GenerationRequest(
        id=job_id, dataset="drone", targets={CAMERA: target}, few_shot=4, max_tokens=40,
        candidates_per_request=per_request, max_attempts_per_prompt=10, seed=5, temperature=0.7,
    )


def read_output(path: Path) -> list[SyntheticPrompt]:
    return [SyntheticPrompt.model_validate_json(x) for x in path.read_text().splitlines()]


async def test_job_fills_its_target_with_prompts_that_pass_every_check(
    tmp_path: Path, local_llm: LocalLLMServer, categorized: list[CategorizedPrompt],
    embedder: Embedder, structure_policy: Policy, vector_store: VectorStore,
) -> None:
    published: list[SanitizedPrompt] = []

    async def publish(prompts: Sequence[SanitizedPrompt]) -> None:
        published.extend(prompts)

    result = await run_generation(
        request("fill", 2, 8), categorized,
        open_job_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}"), vector_store,
        LLMSettings(base_url=local_llm.base_url), GeneratorSettings(data_dir=tmp_path),
        embedder=embedder, policy=structure_policy, publish=publish,
    )
    assert result.job.status is JobStatus.SUCCEEDED, result.job.error
    (progress,) = result.job.topics
    assert progress.generated == 2 and result.written == 2
    assert progress.attempts == 2 + sum(progress.failures.values())
    assert set(progress.failures) <= KNOWN_REASONS
    camera = {c.prompt.id: c.prompt for c in categorized if c.topic_path == ["drone", "camera"]}
    system = next(iter(camera.values())).messages[0]
    kept = read_output(result.output)
    for synthetic in kept:
        prompt = synthetic.prompt
        assert prompt.origin == "synthetic" and synthetic.topic_path == ["drone", "camera"]
        assert [c.name for c in synthetic.validation] == ["structure", "novelty", "topic"]
        assert all(c.passed for c in synthetic.validation)
        assert set(synthetic.seed_example_ids) <= set(camera) and synthetic.seed_example_ids
        assert prompt.messages[0] == system and prompt.messages[-1].role == "user"
        assert prompt.tools == camera[synthetic.seed_example_ids[0]].tools
        assert synthetic.generator_model == "SmolLM2-135M-Instruct"
        assert prompt.id.startswith("syn-")
    assert [p.id for p in published] == [s.prompt.id for s in kept]
    collection = vector_store.ensure_collection(prompt_collection_spec("drone", 384))
    stored = collection.retrieve([point_id(s.prompt.id) for s in kept])
    assert {p.payload["origin"] for p in stored} == {"synthetic"} and len(stored) == 2
    # Each point says what its vector was computed from, so `rft categorize` keeps it as fresh.
    text_of = EmbedderSettings()
    assert {p.id: p.payload["embedding_of"] for p in stored} == {
        point_id(s.prompt.id): embedding_key(
            embedder.name, task_text(s.prompt, text_of.task_text, text_of.max_text_chars))
        for s in kept
    }
    assert {p.payload["topic"] for p in stored} == {CAMERA}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_endpoint_down_fails_the_job_clearly_and_it_resumes_without_loss(
    tmp_path: Path, local_llm: LocalLLMServer, categorized: list[CategorizedPrompt],
    embedder: Embedder, structure_policy: Policy, vector_store: VectorStore, sql_store_url: str,
) -> None:
    store = open_job_store(sql_store_url)
    settings = GeneratorSettings(data_dir=tmp_path)
    common = {"embedder": embedder, "policy": structure_policy}
    up = LLMSettings(base_url=local_llm.base_url)
    first = await run_generation(request("down", 2, 2), categorized, store, vector_store, up,
                                 settings, max_rounds=1, **common)
    kept_before = read_output(first.output)
    dead_url = f"http://127.0.0.1:{_closed_port()}/v1"
    down = LLMSettings(base_url=dead_url, max_retries=1, backoff_base_s=0.01)
    failed = await run_generation(request("down", 2, 2), categorized, store, vector_store, down,
                                  settings, **common)
    assert failed.job.status is JobStatus.FAILED
    assert failed.job.error is not None and dead_url in failed.job.error
    assert "failed 2 attempt(s)" in failed.job.error
    assert read_output(failed.output) == kept_before  # nothing lost, nothing added
    resumed = await run_generation(request("down", 2, 2), categorized, store, vector_store, up,
                                   settings, **common)
    assert resumed.job.status is JobStatus.SUCCEEDED and resumed.job.error is None
    kept = read_output(resumed.output)
    assert len(kept) == 2 and kept[: len(kept_before)] == kept_before


async def test_the_quality_judge_scores_what_passed_the_other_checks_with_the_real_model(
    tmp_path: Path, local_llm: LocalLLMServer, categorized: list[CategorizedPrompt],
    embedder: Embedder, structure_policy: Policy, vector_store: VectorStore,
) -> None:
    judged = request("judged", 2, 8).model_copy(
        update={"quality": QualitySettings(judge_min_score=0.1)}
    )
    result = await run_generation(
        judged, categorized, open_job_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}"),
        vector_store, LLMSettings(base_url=local_llm.base_url),
        GeneratorSettings(data_dir=tmp_path), embedder=embedder, policy=structure_policy,
    )
    assert result.job.status is JobStatus.SUCCEEDED, result.job.error
    kept = read_output(result.output)
    assert len(kept) == 2
    for synthetic in kept:
        checks = {c.name: c for c in synthetic.validation}
        assert list(checks) == ["structure", "novelty", "topic", "quality"]
        assert checks["quality"].passed and checks["quality"].score is not None
        assert checks["quality"].score >= 0.1
    (progress,) = result.job.topics
    assert set(progress.failures) <= KNOWN_REASONS


def test_a_judge_answer_without_a_score_or_below_the_bar_is_a_counted_failure() -> None:
    check, failure = quality_check(None, 0.5)
    assert not check.passed and failure is GenerationFailure.LOW_QUALITY
    assert check.detail == "no score in the judge's answer"
    assert quality_check(0.4, 0.5)[1] is GenerationFailure.LOW_QUALITY
    passed, none = quality_check(0.5, 0.5)
    assert passed.passed and passed.score == 0.5 and none is None
