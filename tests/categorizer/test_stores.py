"""The categorizer's hierarchy and record stores behave the same on SQLite (one machine) and on
PostgreSQL (replicas on several machines share one store), and keep what they hold across a
reopen."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from rft_categorizer.hierarchy_store import HierarchyStore
from rft_categorizer.record_store import RecordStore
from rft_schemas.topics import (
    CategorizationMethod,
    CategorizedPrompt,
    EmbeddedPrompt,
    Topic,
    TopicHierarchy,
)
from tests.categorizer.conftest import sanitized


def hierarchy(*names: str) -> TopicHierarchy:
    return TopicHierarchy(dataset="test", topics=[Topic(name=n) for n in names])


def embedded(prompt_id: str, text: str = "text") -> EmbeddedPrompt:
    return EmbeddedPrompt(
        prompt=sanitized(prompt_id, text),
        model="all-MiniLM-L6-v2",
        point_id=f"point-{prompt_id}",
        dimensions=384,
        embedded_text=text,
    )


def categorized(prompt_id: str, confidence: float, manual: bool = False) -> CategorizedPrompt:
    return CategorizedPrompt(
        prompt=sanitized(prompt_id, "text"),
        topic_path=["billing"],
        confidence=confidence,
        method=CategorizationMethod.MANUAL if manual else CategorizationMethod.EMBEDDING,
        needs_review=confidence < 0.5,
        hierarchy_version=1,
    )


def test_every_saved_hierarchy_is_a_new_version_and_old_ones_stay_readable(
    sql_store_url: str,
) -> None:
    store = HierarchyStore(sql_store_url)
    first = store.save(hierarchy("billing"))
    second = store.save(hierarchy("billing", "shipping"))
    assert (first.version, second.version) == (1, 2)
    assert store.versions("test") == [1, 2]
    assert [t.name for t in store.get("test", 1).topics] == ["billing"]
    assert [t.name for t in store.current("test").topics] == ["billing", "shipping"]
    assert store.current("another") is None
    store.close()
    assert HierarchyStore(sql_store_url).current("test").version == 2


def test_replicas_saving_at_once_get_distinct_consecutive_versions(sql_store_url: str) -> None:
    replicas = [HierarchyStore(sql_store_url) for _ in range(3)]
    saved: list[int] = []

    def save_five(store: HierarchyStore) -> None:
        for _ in range(5):
            saved.append(store.save(hierarchy("billing")).version)

    threads = [threading.Thread(target=save_five, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(saved) == list(range(1, 16))
    assert replicas[0].versions("test") == list(range(1, 16))


def test_records_keep_arrival_order_and_a_redelivery_keeps_the_categorization(
    sql_store_url: str,
) -> None:
    store = RecordStore(sql_store_url)
    store.add_embedded([embedded("c"), embedded("a"), embedded("b")])
    store.set_categorized([categorized("a", 0.3), categorized("c", 0.9)])
    store.add_embedded([embedded("a", "new text"), embedded("d")])  # a redelivered batch

    prompts = store.prompts("test")
    assert [p.prompt.id for p in prompts] == ["c", "a", "b", "d"]
    assert prompts[1].embedded_text == "new text"
    assert prompts[1].categorized is not None and prompts[1].categorized.confidence == 0.3
    assert prompts[2].categorized is None
    assert [p.prompt.id for p in store.prompts("test", ["d", "c"])] == ["c", "d"]
    assert store.prompts("test", []) == []
    assert [c.prompt.id for c in store.categorized("test")] == ["c", "a"]
    assert [c.prompt.id for c in store.review_queue("test", limit=10)] == ["a"]
    assert store.count("test") == 4 and store.count("another") == 0
    store.close()
    assert [p.prompt.id for p in RecordStore(sql_store_url).prompts("test")] == ["c", "a", "b", "d"]


def test_a_lookup_of_more_ids_than_one_query_takes_returns_them_all_in_order(
    sql_store_url: str,
) -> None:
    store = RecordStore(sql_store_url)
    ids = [f"p{i:04d}" for i in range(1_200)]
    store.add_embedded([embedded(i) for i in ids])
    found = store.prompts("test", list(reversed(ids)))
    assert [p.prompt.id for p in found] == ids


def test_a_records_file_from_before_arrival_order_is_upgraded_in_its_old_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "records.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE prompts (dataset TEXT NOT NULL, prompt_id TEXT NOT NULL, "
        "point_id TEXT NOT NULL, embedded_text TEXT NOT NULL, prompt TEXT NOT NULL, "
        "categorized TEXT, needs_review INTEGER NOT NULL DEFAULT 0, confidence REAL, "
        "manual INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (dataset, prompt_id))"
    )
    for prompt_id in ["z", "m", "a"]:
        record = embedded(prompt_id)
        db.execute(
            "INSERT INTO prompts (dataset, prompt_id, point_id, embedded_text, prompt) "
            "VALUES (?, ?, ?, ?, ?)",
            ("test", prompt_id, record.point_id, "text", record.prompt.model_dump_json()),
        )
    db.commit()
    db.close()

    store = RecordStore(path)
    store.add_embedded([embedded("b")])
    assert [p.prompt.id for p in store.prompts("test")] == ["z", "m", "a", "b"]
