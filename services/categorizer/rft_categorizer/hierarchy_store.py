"""Versioned topic hierarchies per dataset, durable in SQLite under RFT_DATA_DIR, or in
PostgreSQL by URL (``RFT_CATEGORIZER_STORE``) so every categorizer replica sees one hierarchy.

Every saved hierarchy is a new version (the store numbers them, so two writers cannot both
claim the same number); old versions stay readable, so a categorization names the version it
was made against and that version can still be shown.
"""

from __future__ import annotations

from pathlib import Path

from rft_runtime.sql import SQLStore, open_sql_store
from rft_schemas.topics import TopicHierarchy

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hierarchies (
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
)
"""


class HierarchyStore:
    def __init__(self, target: str | Path) -> None:
        self.store: SQLStore = open_sql_store(target)
        self.store.create_schema(_SCHEMA)

    def save(self, hierarchy: TopicHierarchy) -> TopicHierarchy:
        """Store ``hierarchy`` as the dataset's next version; return it with that version."""
        while True:
            with self.store.transaction() as tx:
                ((latest,),) = tx.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM hierarchies WHERE dataset = ?",
                    (hierarchy.dataset,),
                )
                saved = hierarchy.model_copy(update={"version": int(latest) + 1})
                # On PostgreSQL two replicas can read the same latest version; the loser's
                # insert is ignored and it numbers its hierarchy again.
                inserted = tx.execute(
                    "INSERT INTO hierarchies (dataset, version, document) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING version",
                    (saved.dataset, saved.version, saved.model_dump_json()),
                )
            if inserted:
                return saved

    def current(self, dataset: str) -> TopicHierarchy | None:
        rows = self.store.query(
            "SELECT document FROM hierarchies WHERE dataset = ? ORDER BY version DESC LIMIT 1",
            (dataset,),
        )
        return TopicHierarchy.model_validate_json(rows[0][0]) if rows else None

    def get(self, dataset: str, version: int) -> TopicHierarchy | None:
        rows = self.store.query(
            "SELECT document FROM hierarchies WHERE dataset = ? AND version = ?",
            (dataset, version),
        )
        return TopicHierarchy.model_validate_json(rows[0][0]) if rows else None

    def versions(self, dataset: str) -> list[int]:
        rows = self.store.query(
            "SELECT version FROM hierarchies WHERE dataset = ? ORDER BY version", (dataset,)
        )
        return [int(v) for (v,) in rows]

    def close(self) -> None:
        self.store.close()
