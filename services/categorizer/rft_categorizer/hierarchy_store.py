"""Versioned topic hierarchies per dataset, durable in SQLite under RFT_DATA_DIR.

Every saved hierarchy is a new version (the store numbers them, so two writers cannot both
claim the same number); old versions stay readable, so a categorization names the version it
was made against and that version can still be shown.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

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
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection used from worker threads: the lock serializes it.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def save(self, hierarchy: TopicHierarchy) -> TopicHierarchy:
        """Store ``hierarchy`` as the dataset's next version; return it with that version."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (latest,) = self._db.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM hierarchies WHERE dataset = ?",
                    (hierarchy.dataset,),
                ).fetchone()
                saved = hierarchy.model_copy(update={"version": latest + 1})
                self._db.execute(
                    "INSERT INTO hierarchies (dataset, version, document) VALUES (?, ?, ?)",
                    (saved.dataset, saved.version, saved.model_dump_json()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return saved

    def current(self, dataset: str) -> TopicHierarchy | None:
        with self._lock:
            row = self._db.execute(
                "SELECT document FROM hierarchies WHERE dataset = ? ORDER BY version DESC LIMIT 1",
                (dataset,),
            ).fetchone()
        return TopicHierarchy.model_validate_json(row[0]) if row else None

    def get(self, dataset: str, version: int) -> TopicHierarchy | None:
        with self._lock:
            row = self._db.execute(
                "SELECT document FROM hierarchies WHERE dataset = ? AND version = ?",
                (dataset, version),
            ).fetchone()
        return TopicHierarchy.model_validate_json(row[0]) if row else None

    def versions(self, dataset: str) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT version FROM hierarchies WHERE dataset = ? ORDER BY version", (dataset,)
            ).fetchall()
        return [v for (v,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
