"""The streaming path on the real broker: sanitized -> embedder -> Qdrant -> categorizer ->
categorized, with the categorizer crashing and restarting in the middle of the stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from rft_categorizer.editing import leaf_paths
from rft_categorizer.service import build_service as build_categorizer
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.templates import parse_hierarchy_file
from rft_embedder import Embedder
from rft_embedder.service import build_service as build_embedder
from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import point_id
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.kafka_topics import CATEGORIZED_PROMPTS, EMBEDDED_PROMPTS, SANITIZED_PROMPTS
from rft_schemas.topics import CategorizedPrompt, EmbeddedPrompt
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS, as_dataset
from tests.categorizer_service.streaming import produce_models, records_of, run_on_fresh_group

pytestmark = pytest.mark.broker


def reference_tool(prompt: SanitizedPrompt) -> str | None:
    """The tool the original assistant called next: the drone data's own label."""
    for message in prompt.reference:
        for call in message.tool_calls or []:
            return call.function.name
    return None


async def test_stream_categorizes_every_prompt_once_across_a_categorizer_crash(
    kafka_broker: LocalBroker,
    embedder: Embedder,
    drone_prompts: list[SanitizedPrompt],
    tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    dataset = f"drone-{run}"
    prompts = as_dataset(drone_prompts, dataset)
    ids = {p.id for p in prompts}
    store = EdgeVectorStore(tmp_path / "qdrant")
    # small batches: the crash lands between committed batches, with more of the stream to come
    common = {"kafka_bootstrap": kafka_broker.bootstrap, "data_dir": tmp_path,
              "kafka_batch_max_records": 25, "log_json": False}

    _, (embed_stage,), _ = build_embedder(
        RuntimeSettings(**common), store=store, embedder=embedder
    )

    def categorizer():  # type: ignore[no-untyped-def]
        app, (stage,), _ = build_categorizer(
            CategorizerSettings(**common), store=store, embedder=embedder
        )
        return app, stage

    app, categorize_stage = categorizer()
    hierarchy = parse_hierarchy_file(json.dumps(DRONE_TOPICS), dataset)
    saved = await asyncio.to_thread(app.state.topics.set_hierarchy, hierarchy)
    assert saved.hierarchy.version == 1 and saved.records == []

    embedding = await run_on_fresh_group(embed_stage, f"embedder-{run}")
    categorizing = await run_on_fresh_group(categorize_stage, f"categorizer-{run}")
    first, second = prompts[: len(prompts) // 2], prompts[len(prompts) // 2 :]
    bootstrap = kafka_broker.bootstrap
    try:
        await produce_models(bootstrap, SANITIZED_PROMPTS.name, [(p.id, p) for p in first])
        first_ids = {p.id for p in first}
        await records_of(
            bootstrap, CATEGORIZED_PROMPTS.name, CategorizedPrompt,
            lambda r: r.prompt.dataset == dataset, lambda got: first_ids <= set(got),
        )
        # Crash: no graceful stop, whatever batch is in flight is never committed.
        categorizing.cancel()
        await asyncio.gather(categorizing, return_exceptions=True)
        await produce_models(bootstrap, SANITIZED_PROMPTS.name, [(p.id, p) for p in second])
        # The embedder goes on while the categorizer is down...
        await records_of(
            bootstrap, EMBEDDED_PROMPTS.name, EmbeddedPrompt,
            lambda r: r.prompt.dataset == dataset, lambda got: ids <= set(got),
        )
        # ...and a new categorizer process state (stores reopened) takes the group over.
        _, categorize_stage = categorizer()
        categorize_stage.group_id = f"categorizer-{run}"
        stop = asyncio.Event()
        categorizing = asyncio.create_task(categorize_stage.run(stop))
        latest, total = await records_of(
            bootstrap, CATEGORIZED_PROMPTS.name, CategorizedPrompt,
            lambda r: r.prompt.dataset == dataset, lambda got: ids <= set(got),
        )
        stop.set()
        await categorizing
    finally:
        for task in (embedding, categorizing):
            task.cancel()
        await asyncio.gather(embedding, categorizing, return_exceptions=True)

    assert set(latest) == ids
    assert total >= len(ids)
    leaves = {tuple(p) for p in leaf_paths(hierarchy)} | {("other",)}
    assert all(tuple(r.topic_path) in leaves for r in latest.values())
    assert all(r.hierarchy_version == 1 for r in latest.values())
    # Nothing doubled: Qdrant holds one point per prompt, each with one topic.
    collection = app.state.topics.runner.collection(dataset)
    assert collection.count({"dataset": dataset}) == len(ids)
    facet = app.state.topics.runner.topic_counts(dataset)
    assert sum(facet.values()) == len(ids)
    assert facet == dict(Counter("/".join(r.topic_path) for r in latest.values()))
    # The payload a point carries is the record that was emitted last for it.
    some = next(iter(latest.values()))
    (point,) = collection.retrieve([point_id(some.prompt.id)])
    assert point.payload["topic_path"] == some.topic_path
    assert point.payload["confidence"] == pytest.approx(some.confidence)
    # And the topics mean something: the data's own tool labels mostly agree.
    lights = [r for r in latest.values()
              if reference_tool(r.prompt) in ("set_drone_lighting", "configure_led_display")]
    assert lights and sum(r.topic_path == ["lights"] for r in lights) >= 0.8 * len(lights)
    camera = [r for r in latest.values() if reference_tool(r.prompt) == "control_camera"]
    assert camera and sum(r.topic_path == ["camera"] for r in camera) >= 0.8 * len(camera)
