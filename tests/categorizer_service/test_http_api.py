"""The categorizer's HTTP API over real HTTP, on real prompts with vectors in Qdrant Edge."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rft_categorizer.service import build_service
from rft_categorizer.settings import CategorizerSettings
from rft_embedder import Embedder, EmbedderSettings, embed_prompts
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_schemas.topics import CategorizedPrompt, CoverageReport, TopicHierarchy
from rft_schemas.traces import SanitizedPrompt
from tests.categorizer_service.fixtures import BATTERY_TOPIC, DRONE_TOPICS, as_dataset
from tests.categorizer_service.http_server import served
from tests.categorizer_service.test_streaming import reference_tool

DATASET = "drone-http"


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


def leaf_text_count(hierarchy: dict[str, Any]) -> int:
    """Texts the classifier embeds per leaf: a description line plus its examples."""
    total = 0
    for topic in hierarchy["topics"]:
        children = topic.get("children") or []
        if children:
            total += leaf_text_count({"topics": children})
        elif topic["name"] != "other":
            total += 1 + len(topic.get("examples") or [])
    return total


async def test_topics_coverage_review_and_manual_routes_over_http(
    embedder: Embedder, drone_prompts: list[SanitizedPrompt], tmp_path: Path
) -> None:
    prompts = as_dataset(drone_prompts, DATASET)
    counting = CountingEmbedder(embedder)
    store = EdgeVectorStore(tmp_path / "qdrant")
    settings = CategorizerSettings(data_dir=tmp_path, log_json=False)
    app, stages, _ = build_service(settings, store=store, embedder=counting)
    assert stages == []  # no broker configured: HTTP only
    topics = app.state.topics
    embedded = embed_prompts(prompts, counting, store, EmbedderSettings())
    # Prompts of a dataset without a hierarchy wait, uncategorized.
    assert topics.categorize_embedded(embedded.embedded) == []
    embedded_prompt_texts = len(counting.texts)

    async with served(app, settings) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["vectorstore"] == "ok"

        templates = (await http.get("/v1/topic-templates")).json()
        assert {"customer_support", "coding_agent", "data_analytics"} <= {
            t["name"] for t in templates
        } and len(templates) >= 4
        assert (await http.get(f"/v1/datasets/{DATASET}/topics")).status_code == 404
        assert (await http.get(f"/v1/datasets/{DATASET}/coverage")).status_code == 404

        discovered = await http.post(
            f"/v1/datasets/{DATASET}/topics:discover", json={"use_llm": False}
        )
        assert discovered.status_code == 200, discovered.text
        body = discovered.json()
        assert body["hierarchy"]["version"] == 1 and body["hierarchy"]["source"] == "auto"
        assert body["recategorized"] == len(prompts) and body["labels_from_llm"] == 0

        put = await http.put(f"/v1/datasets/{DATASET}/topics", json=DRONE_TOPICS)
        assert put.status_code == 200, put.text
        assert put.json()["hierarchy"]["version"] == 2
        assert put.json()["recategorized"] == len(prompts)
        current = await http.get(f"/v1/datasets/{DATASET}/topics")
        got = TopicHierarchy.model_validate(current.json())
        assert got.version == 2 and [t.name for t in got.topics] == ["flight", "camera", "lights"]
        old = await http.get(f"/v1/datasets/{DATASET}/topics", params={"version": 1})
        assert old.json()["source"] == "auto"

        coverage = CoverageReport.model_validate(
            (await http.get(f"/v1/datasets/{DATASET}/coverage")).json()
        )
        assert coverage.total == len(prompts) and coverage.hierarchy_version == 2
        leaf_counts = {"/".join(t.path): t.count for t in coverage.topics
                       if tuple(t.path) in {("flight", "takeoff_and_landing"),
                                            ("flight", "movement"), ("camera",), ("lights",),
                                            ("other",)}}
        # The counts agree with what Qdrant holds in the points' topic payload.
        assert topics.runner.topic_counts(DATASET) == {k: v for k, v in leaf_counts.items() if v}

        review = (await http.get(f"/v1/datasets/{DATASET}/review")).json()
        queue = [CategorizedPrompt.model_validate(r) for r in review["items"]]
        assert review["count"] == len(queue) > 0
        assert all(r.needs_review for r in queue)
        assert [r.confidence for r in queue] == sorted(r.confidence for r in queue)

        # A reviewer decides one prompt: manual, confidence 1, out of the queue.
        chosen = queue[0].prompt.id
        manual = await http.put(
            f"/v1/datasets/{DATASET}/prompts/{chosen}/topic", json={"topic_path": ["camera"]}
        )
        assert manual.status_code == 200, manual.text
        assert manual.json()["method"] == "manual" and manual.json()["confidence"] == 1.0
        review = (await http.get(f"/v1/datasets/{DATASET}/review")).json()
        assert chosen not in {r["prompt"]["id"] for r in review["items"]}
        not_leaf = await http.put(
            f"/v1/datasets/{DATASET}/prompts/{chosen}/topic", json={"topic_path": ["flight"]}
        )
        assert not_leaf.status_code == 422
        unknown = await http.put(
            f"/v1/datasets/{DATASET}/prompts/nope/topic", json={"topic_path": ["camera"]}
        )
        assert unknown.status_code == 404

        # Edit: a new topic; every prompt is categorized again from its stored vector.
        before_edit = {r.prompt.id: r for r in topics.records.categorized(DATASET)}
        counting.texts.clear()
        edited = await http.patch(f"/v1/datasets/{DATASET}/topics", json=[BATTERY_TOPIC])
        assert edited.status_code == 200, edited.text
        assert edited.json()["hierarchy"]["version"] == 3
        assert edited.json()["recategorized"] == len(prompts)
        # Only the topics' texts were embedded, not one prompt.
        hierarchy = edited.json()["hierarchy"]
        assert len(counting.texts) == leaf_text_count(hierarchy)
        assert not set(counting.texts) & {e.embedded_text for e in embedded.embedded}
        after = {r.prompt.id: r for r in topics.records.categorized(DATASET)}
        assert all(r.hierarchy_version == 3 for r in after.values())
        modes = [r for r in after.values() if reference_tool(r.prompt) in (
            "set_autopilot", "set_follow_me_mode", "set_obstacle_avoidance",
            "set_battery_saver_mode")]
        assert modes and sum(r.topic_path == ["flight_modes"] for r in modes) >= 0.75 * len(modes)
        assert all(before_edit[i].topic_path != ["flight_modes"] for i in after)
        # The manual decision survives the edit.
        assert after[chosen].method == "manual" and after[chosen].topic_path == ["camera"]
        assert embedded_prompt_texts == len(prompts)

        duplicate = await http.patch(f"/v1/datasets/{DATASET}/topics", json=[BATTERY_TOPIC])
        assert duplicate.status_code == 409
        assert duplicate.json()["detail"]["reason"] == "duplicate_name"
        missing = await http.patch(
            f"/v1/datasets/{DATASET}/topics", json=[{"op": "delete", "path": ["nope"]}]
        )
        assert missing.status_code == 404
        bad_file = await http.put(f"/v1/datasets/{DATASET}/topics", content=b"{not json")
        assert bad_file.status_code == 422
        versions = topics.hierarchies.versions(DATASET)
        assert versions == [1, 2, 3]  # refused edits make no version

        template = await http.put(
            f"/v1/datasets/{DATASET}/topics", params={"template": "customer_support"}
        )
        assert template.status_code == 200 and template.json()["hierarchy"]["template"] == (
            "customer_support"
        )
        assert (await http.put(f"/v1/datasets/{DATASET}/topics",
                               params={"template": "nope"})).status_code == 404


async def test_discover_on_a_dataset_without_prompts_is_not_found(
    embedder: Embedder, tmp_path: Path
) -> None:
    settings = CategorizerSettings(data_dir=tmp_path, log_json=False)
    app, _, _ = build_service(settings, store=EdgeVectorStore(tmp_path / "q"), embedder=embedder)
    async with served(app, settings) as http:
        response = await http.post("/v1/datasets/empty/topics:discover", json={"use_llm": False})
    assert response.status_code == 404


async def test_discover_takes_a_lower_bound_on_the_number_of_topics(
    embedder: Embedder, drone_prompts: list[SanitizedPrompt], tmp_path: Path
) -> None:
    def leaves(topics: list[dict[str, Any]]) -> int:
        return sum(leaves(t["children"]) if t.get("children") else t["name"] != "other"
                   for t in topics)

    store = EdgeVectorStore(tmp_path / "qdrant")
    settings = CategorizerSettings(data_dir=tmp_path, log_json=False)
    app, _, _ = build_service(settings, store=store, embedder=embedder)
    embedded = embed_prompts(as_dataset(drone_prompts, DATASET), embedder, store,
                             EmbedderSettings())
    app.state.topics.categorize_embedded(embedded.embedded)  # stored, waiting for topics
    url = f"/v1/datasets/{DATASET}/topics:discover"
    async with served(app, settings) as http:
        chosen = await http.post(url, json={"use_llm": False})
        assert chosen.status_code == 200, chosen.text
        found = leaves(chosen.json()["hierarchy"]["topics"])
        # measured: 7 topics chosen from the data alone; 9 at most of 5 prompts or more
        more = await http.post(url, json={"use_llm": False, "min_topics": found + 2})
        assert more.status_code == 200, more.text
        assert leaves(more.json()["hierarchy"]["topics"]) >= found + 2
        # more than the prompts can hold (clusters of 5): as many as they can
        most = await http.post(url, json={"use_llm": False, "min_topics": len(drone_prompts)})
        assert most.status_code == 200, most.text
        assert leaves(most.json()["hierarchy"]["topics"]) >= found + 2
        refused = await http.post(url, json={"use_llm": False, "min_topics": 1})
        assert refused.status_code == 422
