"""A PostgreSQL outage in the categorizer's stage is retried, never a rejection: the prompts are
categorized, stored and emitted once the store is back."""

from __future__ import annotations

import json
from pathlib import Path

from rft_categorizer.service import build_service
from rft_categorizer.settings import CategorizerSettings
from rft_categorizer.templates import parse_hierarchy_file
from rft_embedder import Embedder, EmbedderSettings, embed_prompts
from rft_runtime.postgres_local import LocalPostgres
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.kafka_topics import CATEGORIZED_PROMPTS, EMBEDDED_PROMPTS
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import DRONE_TOPICS, as_dataset
from tests.runtime.store_outage import consumed, deliver_across_an_outage

DATASET = "drone-outage"


async def test_prompts_read_while_the_store_is_down_are_categorized_once_it_is_back(
    postgres_server: LocalPostgres, embedder: Embedder, drone_prompts: list[SanitizedPrompt],
    tmp_path: Path,
) -> None:
    vectors = EdgeVectorStore(tmp_path / "qdrant")
    settings = CategorizerSettings(
        data_dir=tmp_path, categorizer_store=postgres_server.create_database("categorizer"),
        kafka_bootstrap="unused:9092", log_json=False,
    )
    app, (stage,), _ = build_service(settings, store=vectors, embedder=embedder)
    topics = app.state.topics
    topics.set_hierarchy(parse_hierarchy_file(json.dumps(DRONE_TOPICS), DATASET))
    embedded = embed_prompts(
        as_dataset(drone_prompts[:6], DATASET), embedder, vectors, EmbedderSettings()
    ).embedded
    records = [consumed(EMBEDDED_PROMPTS.name, i, e.prompt.id, e) for i, e in enumerate(embedded)]

    delivery = await deliver_across_an_outage(stage, records, postgres_server)

    ids = sorted(e.prompt.id for e in embedded)
    assert delivery.rejections() == []
    assert delivery.failed_calls >= 1, "the store was down: the first call fails"
    assert delivery.keys_on(CATEGORIZED_PROMPTS.name) == ids
    stored = topics.records.prompts(DATASET, ids)
    assert sorted(s.prompt.id for s in stored if s.categorized is not None) == ids
    assert len(delivery.commits) == 1
    vectors.close()
