"""embed_prompts on real prompts, on both vector stores: payload, idempotence, near-duplicates."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from rft_categorizer.batch import Embedded, ensure_embedded
from rft_categorizer.runner import CategorizeRunner
from rft_categorizer.settings import CategorizerSettings
from rft_embedder import EmbedderSettings, embed_prompts, embed_texts, prompt_collection_spec
from rft_embedder.core import embedding_key
from rft_embedder.settings import TaskTextSource
from rft_embedder.stage import build_stage
from rft_runtime.kafka.stage import Inbound
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import VectorStore, point_id
from rft_schemas import RejectionReason, SanitizedPrompt
from tests.embedder.conftest import RememberingEmbedder

# drone_training.jsonl lines 41 and 43: "...can you turn on battery saver mode" and
# "...can you turn off the battery saver mode", cosine 0.958 under all-MiniLM-L6-v2.
BATTERY_ON, BATTERY_OFF = "drone-41", "drone-43"


def test_every_prompt_is_stored_with_its_payload_under_a_deterministic_id(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    outcome = embed_prompts(drone_prompts, embedder, store, EmbedderSettings())
    collection = store.ensure_collection(prompt_collection_spec("drone", 384))
    assert collection.count() == len(drone_prompts) == 103
    assert [e.point_id for e in outcome.embedded] == [point_id(p.id) for p in drone_prompts]
    first = outcome.embedded[0]
    assert first.model == embedder.name and first.dimensions == 384
    assert first.embedded_text == "Let's get the drone in the air, how high should it go?"
    (stored,) = collection.retrieve([first.point_id])
    assert stored.payload == {
        "dataset": "drone",
        "prompt_id": "drone-1",
        "origin": "trace",
        "token_count": drone_prompts[0].token_count,
        "near_duplicate_of": None,
        "embedding_of": embedding_key(embedder.name, first.embedded_text),
    }


def test_embedding_the_same_prompts_again_keeps_ids_count_and_decisions(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    first = embed_prompts(drone_prompts, embedder, store, EmbedderSettings())
    again = embed_prompts(drone_prompts, embedder, store, EmbedderSettings())
    collection = store.ensure_collection(prompt_collection_spec("drone", 384))
    assert collection.count() == 103
    assert [e.point_id for e in again.embedded] == [e.point_id for e in first.embedded]
    assert [e.near_duplicate_of for e in again.embedded] == [
        e.near_duplicate_of for e in first.embedded
    ]
    assert again.near_duplicates == first.near_duplicates


def test_near_duplicate_of_an_earlier_prompt_is_marked_kept_and_counted(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    outcome = embed_prompts(drone_prompts, embedder, store, EmbedderSettings())
    marked = {e.prompt.id: e.near_duplicate_of for e in outcome.embedded if e.near_duplicate_of}
    assert marked == {BATTERY_OFF: BATTERY_ON}
    assert outcome.near_duplicates == 1
    collection = store.ensure_collection(prompt_collection_spec("drone", 384))
    assert collection.count({"near_duplicate_of": BATTERY_ON}) == 1
    assert collection.count({"near_duplicate_of": None}) == 102


def test_near_duplicates_can_be_dropped_as_rejections(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    settings = EmbedderSettings(drop_near_duplicates=True)
    outcome = embed_prompts(drone_prompts, embedder, store, settings)
    assert len(outcome.embedded) == 102 and outcome.near_duplicates == 1
    (rejection,) = outcome.rejected
    assert rejection.id == BATTERY_OFF and rejection.duplicate_of == BATTERY_ON
    assert rejection.reason is RejectionReason.NEAR_DUPLICATE and rejection.stage == "embedder"
    assert rejection.source.line == 43
    collection = store.ensure_collection(prompt_collection_spec("drone", 384))
    assert collection.count() == 102
    assert collection.retrieve([point_id(BATTERY_OFF)]) == []


def test_micro_batches_and_one_batch_mark_the_same_near_duplicates(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    loose = 0.92  # marks a few more real pairs of the drone file, across batch borders
    whole = embed_prompts(
        [p.model_copy(update={"dataset": "whole"}) for p in drone_prompts],
        embedder,
        store,
        EmbedderSettings(near_duplicate_threshold=loose),
    )
    pieces = embed_prompts(
        [p.model_copy(update={"dataset": "pieces"}) for p in drone_prompts],
        embedder,
        store,
        EmbedderSettings(near_duplicate_threshold=loose, micro_batch_size=7),
    )
    marks = {e.prompt.id: e.near_duplicate_of for e in whole.embedded if e.near_duplicate_of}
    assert len(marks) >= 3
    assert marks == {
        e.prompt.id: e.near_duplicate_of for e in pieces.embedded if e.near_duplicate_of
    }


def test_replaying_one_prompt_later_keeps_its_first_decision(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    embed_prompts(drone_prompts, embedder, store, EmbedderSettings())
    by_id = {p.id: p for p in drone_prompts}
    # The original, replayed after its copy is stored, must not become a copy of its copy.
    (original,) = embed_prompts([by_id[BATTERY_ON]], embedder, store, EmbedderSettings()).embedded
    assert original.near_duplicate_of is None
    (copy,) = embed_prompts([by_id[BATTERY_OFF]], embedder, store, EmbedderSettings()).embedded
    assert copy.near_duplicate_of == BATTERY_ON


def test_the_same_text_under_a_new_id_is_a_near_duplicate_of_the_first(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    again = drone_prompts[0].model_copy(update={"id": "drone-1-second-export"})
    outcome = embed_prompts([*drone_prompts[:5], again], embedder, store, EmbedderSettings())
    assert outcome.embedded[-1].near_duplicate_of == "drone-1"


def test_near_duplicates_are_looked_for_within_the_same_dataset_only(
    drone_prompts: list[SanitizedPrompt],
    toy_prompts: list[SanitizedPrompt],
    embedder: RememberingEmbedder,
    store: VectorStore,
) -> None:
    embed_prompts(drone_prompts, embedder, store, EmbedderSettings())
    copies = [p.model_copy(update={"dataset": "drone-copy"}) for p in drone_prompts[:10]]
    outcome = embed_prompts([*toy_prompts, *copies], embedder, store, EmbedderSettings())
    assert outcome.near_duplicates == 0
    assert store.ensure_collection(prompt_collection_spec("drone-copy", 384)).count() == 10
    assert store.ensure_collection(prompt_collection_spec("toy", 384)).count() == 4


def test_ad_hoc_texts_get_json_ready_unit_vectors_closer_for_closer_meaning(
    embedder: RememberingEmbedder,
) -> None:
    card, card_again, drone = embed_texts(
        ["How do I locate my card?", "Where is my card?", "Land the drone at home base"],
        embedder,
    )
    assert len(card) == 384 and all(isinstance(x, float) for x in card)
    assert abs(sum(x * x for x in card) - 1.0) < 1e-4
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(card, card_again) > dot(card, drone) + 0.2


def test_the_stage_counts_near_duplicates_per_dataset_in_its_metrics(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore
) -> None:
    registry = CollectorRegistry()
    stage = build_stage(RuntimeSettings(), embedder, store, EmbedderSettings(), registry)
    topic = "rft.prompts.sanitized.v1"
    batch = [Inbound(p, p.id, topic, 0, n) for n, p in enumerate(drone_prompts)]
    outputs = asyncio.run(stage.handler(batch))
    assert len(outputs) == len(drone_prompts)
    assert registry.get_sample_value("rft_embedder_near_duplicates_total",
                                     {"dataset": "drone"}) == 1


def embed_missing_of(
    runner: CategorizeRunner, prompts: list[SanitizedPrompt], settings: EmbedderSettings
) -> Embedded:
    """The CLI's step-C batch: the embedder's embed_prompts handed to the categorizer's."""
    return ensure_embedded(runner, prompts, settings, embed_missing=lambda missing: embed_prompts(
        missing, runner.embedder, runner.store, settings))


def test_a_vector_computed_from_another_text_is_embedded_again(
    drone_prompts: list[SanitizedPrompt], embedder: RememberingEmbedder, store: VectorStore,
    tmp_path,
) -> None:
    runner = CategorizeRunner(embedder, store, CategorizerSettings(data_dir=tmp_path))
    prompts = drone_prompts[:20]
    first = embed_missing_of(runner, prompts, EmbedderSettings())
    assert first.newly_embedded == 20
    assert embed_missing_of(runner, prompts, EmbedderSettings()).newly_embedded == 0
    tools = EmbedderSettings(task_text=TaskTextSource.SYSTEM_AND_TOOLS)
    changed = embed_missing_of(runner, prompts, tools)
    assert changed.newly_embedded == 20 and changed.texts != first.texts
    collection = store.ensure_collection(prompt_collection_spec("drone", 384))
    (point,) = collection.retrieve([point_id(prompts[0].id)])
    assert point.payload["embedding_of"] == embedding_key(embedder.name, changed.texts[0])
