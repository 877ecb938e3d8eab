"""The generator's pure parts: parsing LLM answers, MMR examples, ids, the job store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rft_embedder import Embedder, EmbedderSettings, prompt_collection_spec, task_text
from rft_embedder.core import embedding_key, prompt_payload
from rft_generator import (
    GeneratorSettings,
    JobStoreError,
    candidate_id,
    mmr_select,
    open_job_store,
)
from rft_generator.job_store import CandidateRecord
from rft_generator.jobs import COVERAGE_FILE, DatasetNotReady, JobScheduler
from rft_generator.pool import prompt_vectors
from rft_generator.prompting import (
    LOCAL_MAX_TOKENS,
    SERVED_MAX_TOKENS,
    default_max_tokens,
    parse_request,
    synthetic_messages,
)
from rft_generator.validation import check_structure, novelty_check, topic_check
from rft_runtime.llm import LLMSettings
from rft_runtime.vectorstore import point_id
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_sanitizer import Policy
from rft_schemas import (
    CategorizedPrompt,
    CoverageReport,
    GenerationFailure,
    GenerationRequest,
    JobStatus,
    SourceLocation,
    TopicCoverage,
    ValidationCheck,
)


@pytest.mark.parametrize(
    ("answer", "truncated", "expected"),
    [
        ("", False, GenerationFailure.EMPTY),
        ("   \n ", False, GenerationFailure.EMPTY),
        ("I'm sorry, but I can't help with that.", False, GenerationFailure.REFUSAL),
        ("As an AI language model, I cannot", False, GenerationFailure.REFUSAL),
        ("Here's a new request:", False, GenerationFailure.WRONG_SHAPE),
        ("Can you show me the perfect flying", True, GenerationFailure.WRONG_SHAPE),
        ("x" * 700, False, GenerationFailure.WRONG_SHAPE),
    ],
)
def test_unusable_answers_are_counted_failures(
    answer: str, truncated: bool, expected: GenerationFailure
) -> None:
    parsed = parse_request(answer, truncated, max_chars=600)
    assert parsed.text is None and parsed.failure is expected


def test_lead_ins_quotes_and_numbering_are_cut_from_the_request() -> None:
    quoted = parse_request('Here\'s a different request:\n\n"Fly a little further north, ok?"\n\n'
                           "In your new request, you", True, 600)
    assert quoted.text == "Fly a little further north, ok?"
    numbered = parse_request("1. Take off and hover at 20 meters.", False, 600)
    assert numbered.text == "Take off and hover at 20 meters."
    cut = parse_request("Switch to photo mode. Then take a picture of the", True, 600)
    assert cut.text == "Switch to photo mode."


def test_mmr_picks_spread_examples_not_the_nearest_copies(
    categorized: list[CategorizedPrompt], embedder: Embedder
) -> None:
    texts = [c.prompt.messages[-1].text() for c in categorized]
    vectors = embedder.embed(texts)
    picks = mmr_select(vectors, 5, diversity=0.5, seed=0)
    assert len(set(picks)) == 5
    centroid = vectors.mean(axis=0)
    nearest_five = np.argsort(-(vectors @ centroid))[:5]

    def spread(rows: list[int]) -> float:
        block = vectors[rows] @ vectors[rows].T
        return float(block[np.triu_indices(len(rows), 1)].mean())

    assert spread(picks) < spread(list(nearest_five))
    assert mmr_select(vectors, 5, seed=0) == picks
    assert mmr_select(vectors[:3], 5) == [0, 1, 2]


def test_real_prompts_embedded_for_the_pool_are_stored_as_the_embedder_stores_them(
    categorized: list[CategorizedPrompt], embedder: Embedder, tmp_path: Path
) -> None:
    settings = EmbedderSettings()
    prompts = [c.prompt for c in categorized[:3]]
    store = EdgeVectorStore(tmp_path / "qdrant")
    try:
        collection = store.ensure_collection(prompt_collection_spec("drone", embedder.dimensions))
        prompt_vectors(prompts, collection, embedder, settings)
        stored = {p.id: p.payload for p in collection.retrieve([point_id(p.id) for p in prompts])}
    finally:
        store.close()
    for prompt in prompts:
        text = task_text(prompt, settings.task_text, settings.max_text_chars)
        assert stored[point_id(prompt.id)] == prompt_payload(
            prompt, embedding_key(embedder.name, text))


def test_candidate_ids_depend_on_job_topic_and_attempt_only() -> None:
    assert candidate_id("j", "a/b", 3) == candidate_id("j", "a/b", 3)
    assert len({candidate_id("j", "a/b", 3), candidate_id("j", "a/b", 4),
                candidate_id("j", "a/c", 3), candidate_id("k", "a/b", 3)}) == 4


def test_structure_failures_carry_the_sanitizers_reason_codes(
    categorized: list[CategorizedPrompt], structure_policy: Policy
) -> None:
    example = categorized[0].prompt
    where = SourceLocation(uri="generation-job:t", line=0)
    def reason(text: str, policy: Policy = structure_policy) -> str:
        outcome = check_structure("c1", "drone", synthetic_messages(example, text),
                                  example.tools, where, policy)
        assert isinstance(outcome, ValidationCheck) and not outcome.passed
        return outcome.detail

    assert reason("") == "empty_content"
    assert reason("\u200b\u200b") == "empty_content"
    assert reason("ok") == "missing_user_message"  # a courtesy is not a request
    tight = replace(structure_policy, max_tokens=20, count_all_tokens=True)
    assert reason("Take off and hover at twenty meters above the field", tight) == "too_long"
    good = check_structure("c3", "drone", synthetic_messages(example, "Take off and hover at "
                           "twenty meters above the field"), example.tools, where, structure_policy)
    assert not isinstance(good, ValidationCheck)
    assert good.messages[0].role == "system" and good.tools == example.tools


def test_novelty_and_topic_checks_name_their_failure() -> None:
    assert novelty_check(0.99, True, 0.92, 0.97)[1] is GenerationFailure.COPY_OF_EXAMPLE
    assert novelty_check(0.95, True, 0.92, 0.97)[1] is GenerationFailure.NEAR_DUPLICATE
    assert novelty_check(0.80, False, 0.92, 0.97)[1] is None
    assert topic_check("drone/flight", 0.9, "drone/camera", 0.5)[1] is GenerationFailure.WRONG_TOPIC
    assert topic_check("drone/camera", 0.4, "drone/camera", 0.5)[1] is GenerationFailure.WRONG_TOPIC
    assert topic_check("drone/camera", 0.8, "drone", 0.5)[1] is None


def test_job_store_is_durable_and_writes_a_candidate_once(sql_store_url: str) -> None:
    store = open_job_store(sql_store_url)
    request = GenerationRequest(id="j1", dataset="drone", targets={"drone/camera": 2})
    store.create(request, {"drone/camera": 2})
    store.create(request, {"drone/camera": 2})  # a second submit changes nothing
    rows = [CandidateRecord(candidate_id("j1", "drone/camera", i), "drone/camera", i, False,
                            "wrong_topic") for i in range(3)]
    store.record("j1", rows)
    store.record("j1", rows)
    store.set_status("j1", JobStatus.RUNNING, model="m")
    store.close()
    again = open_job_store(sql_store_url)
    job = again.get("j1")
    assert job is not None and job.status is JobStatus.RUNNING and job.generator_model == "m"
    (topic,) = job.topics
    assert (topic.target, topic.attempts, topic.failures) == (2, 3, {"wrong_topic": 3})
    assert again.job_ids([JobStatus.QUEUED, JobStatus.RUNNING]) == ["j1"]
    assert again.job_ids([JobStatus.SUCCEEDED]) == []
    assert again.get("nope") is None


def test_a_job_store_url_of_another_kind_is_refused_with_the_choices() -> None:
    with pytest.raises(JobStoreError, match="use sqlite:///path or postgresql://"):
        open_job_store("mysql://db/rft")


def test_step_c_classifier_recategorizes_candidates_as_step_c_would(
    categorized: list[CategorizedPrompt], embedder: Embedder
) -> None:
    from rft_categorizer.categorize import (
        CategorizerTopicChecker,
        fit_topic_classifier,
        topic_texts,
    )
    from rft_schemas import Topic, TopicHierarchy

    hierarchy = TopicHierarchy(dataset="drone", topics=[Topic(name="drone", children=[
        Topic(name="camera", description="camera modes, photos and videos",
              examples=["switch the camera to photo mode", "record a video for a minute"]),
        Topic(name="flight", description="take off, land, altitude, speed and moving around",
              examples=["take off to 100 meters", "land the drone now"]),
    ])])
    texts = topic_texts(hierarchy)
    leaf_vectors = {path: embedder.embed(lines) for path, lines in texts.items()}
    pool = embedder.embed([c.prompt.messages[-1].text() for c in categorized])
    checker = CategorizerTopicChecker(fit_topic_classifier(leaf_vectors, pool), pool)
    landed = checker.categorize(embedder.embed([
        "Can you put the camera in panorama mode and snap a shot?",
        "Fly higher, to 300 meters, and then hover",
    ]))
    assert [topic for topic, _ in landed] == ["drone/camera", "drone/flight"]
    assert all(0.5 < confidence <= 1 for _, confidence in landed)


def test_a_job_without_targets_takes_step_ds_recommendation(tmp_path: Path) -> None:
    def row(path: list[str], recommended: int) -> TopicCoverage:
        return TopicCoverage(path=path, level=len(path), count=3, share=0.1, target=5, gap=2,
                             recommended_generate=recommended, below_target=recommended > 0)

    report = CoverageReport(dataset="drone", hierarchy_version=1, total=30, topics=[
        row(["drone"], 4), row(["drone", "camera"], 3), row(["drone", "lights"], 1),
        row(["drone", "flight"], 0), row(["other"], 2),
    ])
    (tmp_path / "drone").mkdir()
    (tmp_path / "drone" / COVERAGE_FILE).write_text(report.model_dump_json())
    scheduler = JobScheduler(
        open_job_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}"), vector_store=lambda: None,
        llm=LLMSettings, settings=GeneratorSettings(data_dir=tmp_path),
    )
    request = GenerationRequest(id="auto", dataset="drone")
    # the deepest topics that need prompts; 'other' is never a target
    assert scheduler._targets(request) == {"drone/camera": 3, "drone/lights": 1}
    with pytest.raises(DatasetNotReady, match="no coverage report"):
        scheduler._targets(GenerationRequest(id="elsewhere", dataset="bank"))
    # a CPU budget caps each topic, as `rft generate` caps it (one function for both)
    capped = JobScheduler(
        scheduler.store, vector_store=lambda: None, llm=LLMSettings,
        settings=GeneratorSettings(data_dir=tmp_path, max_new_per_topic=2),
    )
    assert capped._targets(request) == {"drone/camera": 2, "drone/lights": 1}


def test_max_tokens_default_by_backend() -> None:
    assert SERVED_MAX_TOKENS == 256 and LOCAL_MAX_TOKENS == 64
    assert default_max_tokens(LLMSettings(base_url=None)) == LOCAL_MAX_TOKENS
    assert default_max_tokens(LLMSettings(base_url="http://llm:8000/v1")) == SERVED_MAX_TOKENS
    # `rft up` starts the local server and says so: its URL is set, the model is still local
    local_server = LLMSettings(base_url="http://127.0.0.1:8001/v1", backend="local")
    assert default_max_tokens(local_server) == LOCAL_MAX_TOKENS
    assert default_max_tokens(LLMSettings().pointed_at_local("http://127.0.0.1:9/v1")) == 64
