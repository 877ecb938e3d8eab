"""The vector-store contract, run on Qdrant Edge and on the qdrant-client adapter alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore import (
    CollectionMismatchError,
    CollectionSpec,
    Distance,
    IndexKind,
    MissingCollectionError,
    VectorPoint,
    VectorStore,
    collection_name,
    open_vector_store,
    point_id,
)
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_runtime.vectorstore.server import ServerVectorStore

DIM = 8
SPEC = CollectionSpec(
    name="prompts__toy",
    dimensions=DIM,
    indexed={"topic": IndexKind.KEYWORD, "token_count": IndexKind.INTEGER},
)
TOPICS = ["billing", "billing", "billing", "refunds", "refunds", "travel", "travel", "travel"]


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def sample_points() -> list[VectorPoint]:
    return [
        VectorPoint(
            id=point_id(f"prompt-{i}"),
            vector=unit(i),
            payload={"prompt_id": f"prompt-{i}", "topic": topic, "token_count": 10 * i},
        )
        for i, topic in enumerate(TOPICS)
    ]


def test_point_id_is_a_stable_uuid5_of_the_record_id() -> None:
    assert point_id("p-1") == point_id("p-1")
    assert point_id("p-1") != point_id("p-2")
    assert point_id("p-1")[14] == "5"  # the UUID version digit


def test_collection_name_is_a_safe_directory_name_distinct_per_dataset() -> None:
    assert collection_name("prompts", "banking77") == "prompts__banking77"
    odd_a, odd_b = collection_name("prompts", "a/b"), collection_name("prompts", "a:b")
    assert "/" not in odd_a and ":" not in odd_b
    assert odd_a != odd_b


def test_upsert_twice_keeps_one_point_per_id(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    collection.upsert(sample_points())
    assert collection.count() == len(TOPICS)


def test_query_finds_the_point_itself_first_with_cosine_one(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    hits = collection.query(unit(3), limit=3, with_vectors=True)
    assert hits[0].id == point_id("prompt-3")
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].payload["topic"] == "refunds"
    assert hits[0].vector is not None and np.allclose(hits[0].vector, unit(3), atol=1e-5)
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_query_filter_keeps_only_matching_points(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    hits = collection.query(unit(3), limit=10, filter={"topic": "travel"})
    assert {hit.payload["topic"] for hit in hits} == {"travel"}
    assert len(hits) == 3
    either = collection.query(unit(3), limit=10, filter={"topic": ["travel", "refunds"]})
    assert len(either) == 5


def test_count_and_facet_report_points_per_topic(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    assert collection.count({"topic": "billing"}) == 3
    assert collection.facet("topic") == {"billing": 3, "refunds": 2, "travel": 3}
    assert collection.facet("topic", filter={"token_count": [0, 10, 30]}) == {
        "billing": 2,
        "refunds": 1,
    }


def test_none_in_a_filter_matches_points_without_the_key(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    points = sample_points()
    collection.upsert(points)
    collection.set_payload([points[0].id], {"near_duplicate_of": "prompt-9"})
    assert collection.count({"near_duplicate_of": None}) == len(points) - 1


def test_set_payload_merges_keys_and_moves_facet_counts(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    points = sample_points()
    collection.upsert(points)
    collection.set_payload([points[0].id, points[1].id], {"topic": "refunds", "confidence": 0.9})
    assert collection.facet("topic") == {"billing": 1, "refunds": 4, "travel": 3}
    (stored,) = collection.retrieve([points[0].id])
    assert stored.payload == {
        "prompt_id": "prompt-0",
        "topic": "refunds",
        "token_count": 0,
        "confidence": 0.9,
    }


def test_scroll_pages_through_every_point_once(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    seen: list[str] = []
    offset: str | None = None
    pages = 0
    while True:
        page = collection.scroll(limit=3, offset=offset, with_vectors=True)
        seen.extend(point.id for point in page.points)
        assert all(point.vector is not None and len(point.vector) == DIM for point in page.points)
        pages += 1
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert sorted(seen) == sorted(p.id for p in sample_points())
    assert pages == 3


def test_scroll_filter_lists_only_matching_points(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    page = collection.scroll(filter={"topic": "refunds"}, limit=100)
    assert {p.payload["prompt_id"] for p in page.points} == {"prompt-3", "prompt-4"}
    assert page.next_offset is None


def test_retrieve_leaves_out_missing_ids(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    found = collection.retrieve([point_id("prompt-2"), point_id("never-stored")])
    assert [p.payload["prompt_id"] for p in found] == ["prompt-2"]


def test_optimize_keeps_every_point_findable(store: VectorStore) -> None:
    collection = store.ensure_collection(SPEC)
    collection.upsert(sample_points())
    collection.optimize()
    assert collection.count() == len(TOPICS)
    assert collection.query(unit(5), limit=1)[0].id == point_id("prompt-5")


def test_ensure_collection_refuses_other_dimensions(store: VectorStore) -> None:
    store.ensure_collection(SPEC).upsert(sample_points())
    with pytest.raises(CollectionMismatchError):
        store.ensure_collection(CollectionSpec(name=SPEC.name, dimensions=DIM * 2))


def test_open_collection_finds_an_existing_one_as_it_was_created(store: VectorStore) -> None:
    with pytest.raises(MissingCollectionError):
        store.open_collection(SPEC.name)
    store.ensure_collection(SPEC).upsert(sample_points())
    opened = store.open_collection(SPEC.name)
    assert (opened.spec.dimensions, opened.spec.distance) == (DIM, SPEC.distance)
    opened.set_payload([point_id("prompt-0")], {"topic": "refunds"})
    assert store.ensure_collection(SPEC).facet("topic")["refunds"] == 3


def test_delete_collection_forgets_its_points(store: VectorStore) -> None:
    store.ensure_collection(SPEC).upsert(sample_points())
    assert store.collection_exists(SPEC.name)
    store.delete_collection(SPEC.name)
    assert not store.collection_exists(SPEC.name)
    assert store.ensure_collection(SPEC).count() == 0


def test_edge_opens_a_collection_another_process_made_from_its_config(tmp_path: Path) -> None:
    first = EdgeVectorStore(tmp_path)
    first.ensure_collection(CollectionSpec("dots", dimensions=DIM, distance=Distance.DOT))
    first.close()
    second = EdgeVectorStore(tmp_path)  # nothing open: the spec comes from the shard's file
    assert second.open_collection("dots").spec.distance is Distance.DOT
    assert second.open_collection("dots").spec.dimensions == DIM
    second.close()


def test_edge_collection_survives_a_reopen(tmp_path: Path) -> None:
    first = EdgeVectorStore(tmp_path)
    first.ensure_collection(SPEC).upsert(sample_points())
    first.close()
    second = EdgeVectorStore(tmp_path)
    collection = second.ensure_collection(SPEC)
    assert collection.count() == len(TOPICS)
    assert collection.facet("topic")["travel"] == 3
    second.close()


def test_two_edge_stores_in_one_process_share_the_open_shard(tmp_path: Path) -> None:
    first, second = EdgeVectorStore(tmp_path), EdgeVectorStore(tmp_path)
    first.ensure_collection(SPEC).upsert(sample_points())
    assert second.ensure_collection(SPEC).count() == len(TOPICS)
    first.close()
    assert second.ensure_collection(SPEC).count() == len(TOPICS)
    second.close()


def test_factory_picks_edge_without_url_and_server_with_one(tmp_path: Path) -> None:
    edge = open_vector_store(RuntimeSettings(data_dir=tmp_path))
    assert isinstance(edge, EdgeVectorStore)
    edge.ensure_collection(SPEC)
    assert (tmp_path / "qdrant" / SPEC.name / "edge_config.json").exists()
    edge.close()
    server = open_vector_store(RuntimeSettings(qdrant_url="http://127.0.0.1:1"))
    assert isinstance(server, ServerVectorStore)
    server.close()
