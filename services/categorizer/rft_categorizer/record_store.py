"""The prompts the categorizer has seen, per dataset, with their latest categorization.

Qdrant holds the vectors and the topic payload that coverage facets over; this store holds what
Qdrant does not: each prompt's record (to emit a self-contained CategorizedPrompt again after a
hierarchy edit) and the text that was embedded (what topic discovery names topics from). SQLite
under RFT_DATA_DIR by default; PostgreSQL by URL (``RFT_CATEGORIZER_STORE``) so replicas share
it. Writes are upserts by (dataset, prompt id), so a re-delivered batch changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rft_runtime.sql import SQLiteStore, SQLStore, in_lists, open_sql_store
from rft_schemas.topics import CategorizationMethod, CategorizedPrompt, EmbeddedPrompt
from rft_schemas.traces import SanitizedPrompt

_COLUMNS = """
    dataset TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    point_id TEXT NOT NULL,
    embedded_text TEXT NOT NULL,
    prompt TEXT NOT NULL,
    categorized TEXT,
    needs_review INTEGER NOT NULL DEFAULT 0,
    confidence REAL,
    manual INTEGER NOT NULL DEFAULT 0,
    UNIQUE (dataset, prompt_id)
"""
# `arrival` keeps the order prompts first came in (outputs list them in it); the one line of
# DDL the engines do not share is how it counts.
_ARRIVAL = {
    "sqlite": "arrival INTEGER PRIMARY KEY,",
    "postgresql": "arrival BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,",
}
_DATA = "dataset, prompt_id, point_id, embedded_text, prompt, categorized, needs_review, " \
        "confidence, manual"


@dataclass(frozen=True)
class StoredPrompt:
    prompt: SanitizedPrompt
    point_id: str
    embedded_text: str
    categorized: CategorizedPrompt | None


class RecordStore:
    def __init__(self, target: str | Path) -> None:
        self.store: SQLStore = open_sql_store(target)
        if isinstance(self.store, SQLiteStore):
            _upgrade_sqlite_without_arrival(self.store)
        self.store.create_schema(
            f"CREATE TABLE IF NOT EXISTS prompts ({_ARRIVAL[self.store.engine]}{_COLUMNS})"
        )

    def add_embedded(self, records: Sequence[EmbeddedPrompt]) -> None:
        """Remember embedded prompts; a prompt seen before keeps its categorization and place."""
        rows = [
            (r.prompt.dataset, r.prompt.id, r.point_id, r.embedded_text, r.prompt.model_dump_json())
            for r in records
        ]
        with self.store.transaction() as tx:
            tx.executemany(
                "INSERT INTO prompts (dataset, prompt_id, point_id, embedded_text, prompt) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (dataset, prompt_id) DO UPDATE SET "
                "point_id = excluded.point_id, embedded_text = excluded.embedded_text, "
                "prompt = excluded.prompt",
                rows,
            )

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
        with self.store.transaction() as tx:
            tx.executemany(
                "UPDATE prompts SET categorized = ?, needs_review = ?, confidence = ?, manual = ? "
                "WHERE dataset = ? AND prompt_id = ?",
                rows,
            )

    def prompts(self, dataset: str, ids: Sequence[str] | None = None) -> list[StoredPrompt]:
        """The dataset's prompts in arrival order (or those among ``ids``)."""
        select = (
            "SELECT arrival, prompt, point_id, embedded_text, categorized FROM prompts "
            "WHERE dataset = ?"
        )
        if ids is None:
            rows = self.store.query(select + " ORDER BY arrival", (dataset,))
        else:
            rows = []
            for marks, chunk in in_lists(list(dict.fromkeys(ids))):
                rows += self.store.query(select + f" AND prompt_id IN ({marks})", (dataset, *chunk))
            rows.sort(key=lambda row: row[0])
        return [
            StoredPrompt(
                prompt=SanitizedPrompt.model_validate_json(prompt),
                point_id=point_id,
                embedded_text=text,
                categorized=CategorizedPrompt.model_validate_json(cat) if cat else None,
            )
            for _, prompt, point_id, text, cat in rows
        ]

    def categorized(self, dataset: str) -> list[CategorizedPrompt]:
        rows = self.store.query(
            "SELECT categorized FROM prompts WHERE dataset = ? AND categorized IS NOT NULL "
            "ORDER BY arrival",
            (dataset,),
        )
        return [CategorizedPrompt.model_validate_json(c) for (c,) in rows]

    def categorized_page(
        self, dataset: str, limit: int, cursor: int = 0
    ) -> tuple[list[CategorizedPrompt], int | None]:
        """A page of the dataset's categorized records in arrival order, and the cursor of the
        next page (None after the last)."""
        rows = self.store.query(
            "SELECT arrival, categorized FROM prompts WHERE dataset = ? AND categorized IS NOT "
            "NULL AND arrival > ? ORDER BY arrival LIMIT ?",
            (dataset, cursor, limit + 1),
        )
        page = rows[:limit]
        next_cursor = int(page[-1][0]) if len(rows) > limit else None
        return [CategorizedPrompt.model_validate_json(c) for _, c in page], next_cursor

    def review_queue(self, dataset: str, limit: int) -> list[CategorizedPrompt]:
        """Prompts waiting for a person, least confident first."""
        rows = self.store.query(
            "SELECT categorized FROM prompts WHERE dataset = ? AND needs_review = 1 "
            "ORDER BY confidence, prompt_id LIMIT ?",
            (dataset, limit),
        )
        return [CategorizedPrompt.model_validate_json(c) for (c,) in rows]

    def count(self, dataset: str) -> int:
        ((n,),) = self.store.query("SELECT COUNT(*) FROM prompts WHERE dataset = ?", (dataset,))
        return int(n)

    def close(self) -> None:
        self.store.close()


def _upgrade_sqlite_without_arrival(store: SQLiteStore) -> None:
    """A records file written before `arrival` existed kept its order in SQLite's rowid: copy
    it into the new table in that order, once."""
    columns = {name for (name,) in store.query("SELECT name FROM pragma_table_info('prompts')")}
    if not columns or "arrival" in columns:
        return
    with store.transaction() as tx:
        tx.execute("ALTER TABLE prompts RENAME TO prompts_before_arrival")
        tx.execute(f"CREATE TABLE prompts ({_ARRIVAL['sqlite']}{_COLUMNS})")
        tx.execute(
            f"INSERT INTO prompts ({_DATA}) SELECT {_DATA} FROM prompts_before_arrival "
            "ORDER BY rowid"
        )
        tx.execute("DROP TABLE prompts_before_arrival")
