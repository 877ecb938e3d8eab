"""The prompts the categorizer has seen, per dataset, with their latest categorization.

Qdrant holds the vectors and the topic payload that coverage facets over; this SQLite file holds
what Qdrant does not: each prompt's record (to emit a self-contained CategorizedPrompt again
after a hierarchy edit) and the text that was embedded (what topic discovery names topics from).
Writes are upserts by (dataset, prompt id), so a re-delivered batch changes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rft_schemas.topics import CategorizationMethod, CategorizedPrompt, EmbeddedPrompt
from rft_schemas.traces import SanitizedPrompt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (
    dataset TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    point_id TEXT NOT NULL,
    embedded_text TEXT NOT NULL,
    prompt TEXT NOT NULL,
    categorized TEXT,
    needs_review INTEGER NOT NULL DEFAULT 0,
    confidence REAL,
    manual INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dataset, prompt_id)
)
"""


@dataclass(frozen=True)
class StoredPrompt:
    prompt: SanitizedPrompt
    point_id: str
    embedded_text: str
    categorized: CategorizedPrompt | None


class RecordStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def add_embedded(self, records: Sequence[EmbeddedPrompt]) -> None:
        """Remember embedded prompts; a prompt seen before keeps its categorization."""
        rows = [
            (r.prompt.dataset, r.prompt.id, r.point_id, r.embedded_text, r.prompt.model_dump_json())
            for r in records
        ]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO prompts (dataset, prompt_id, point_id, embedded_text, prompt) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dataset, prompt_id) DO UPDATE SET "
                "point_id = excluded.point_id, embedded_text = excluded.embedded_text, "
                "prompt = excluded.prompt",
                rows,
            )
            self._db.execute("COMMIT")

    def set_categorized(self, records: Sequence[CategorizedPrompt]) -> None:
        rows = [
            (
                r.model_dump_json(),
                int(r.needs_review),
                r.confidence,
                int(r.method is CategorizationMethod.MANUAL),
                r.prompt.dataset,
                r.prompt.id,
            )
            for r in records
        ]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "UPDATE prompts SET categorized = ?, needs_review = ?, confidence = ?, manual = ? "
                "WHERE dataset = ? AND prompt_id = ?",
                rows,
            )
            self._db.execute("COMMIT")

    def prompts(self, dataset: str, ids: Sequence[str] | None = None) -> list[StoredPrompt]:
        """The dataset's prompts in arrival order (or those among ``ids``)."""
        query = (
            "SELECT prompt, point_id, embedded_text, categorized FROM prompts WHERE dataset = ?"
        )
        params: list[str] = [dataset]
        if ids is not None:
            if not ids:
                return []
            query += f" AND prompt_id IN ({', '.join('?' * len(ids))})"
            params.extend(ids)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid", params).fetchall()
        return [
            StoredPrompt(
                prompt=SanitizedPrompt.model_validate_json(prompt),
                point_id=point_id,
                embedded_text=text,
                categorized=CategorizedPrompt.model_validate_json(cat) if cat else None,
            )
            for prompt, point_id, text, cat in rows
        ]

    def categorized(self, dataset: str) -> list[CategorizedPrompt]:
        with self._lock:
            rows = self._db.execute(
                "SELECT categorized FROM prompts WHERE dataset = ? AND categorized IS NOT NULL "
                "ORDER BY rowid",
                (dataset,),
            ).fetchall()
        return [CategorizedPrompt.model_validate_json(c) for (c,) in rows]

    def review_queue(self, dataset: str, limit: int) -> list[CategorizedPrompt]:
        """Prompts waiting for a person, least confident first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT categorized FROM prompts WHERE dataset = ? AND needs_review = 1 "
                "ORDER BY confidence, prompt_id LIMIT ?",
                (dataset, limit),
            ).fetchall()
        return [CategorizedPrompt.model_validate_json(c) for (c,) in rows]

    def count(self, dataset: str) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM prompts WHERE dataset = ?", (dataset,)
            ).fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()
