"""The durable record of kept prompts, so that a duplicate is one across restarts and replicas.

A claim is an atomic insert-or-get keyed by (dataset, prompt id): the first writer wins and owns
the prompt. The owner is a trace id, so re-processing the same trace after a crash (the
at-least-once redelivery the Kafka stage relies on) finds its own claim and keeps the prompt.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Claim:
    """Who holds a prompt id: ``owner_trace`` and where it was read (``owner_source``)."""

    prompt_id: str
    owner_trace: str
    owner_source: str

    def owned_by(self, trace_id: str) -> bool:
        return self.owner_trace == trace_id


@dataclass(frozen=True)
class ClaimRequest:
    dataset: str
    prompt_id: str
    trace_id: str
    source: str


class DedupStore(Protocol):
    """What the sanitizer needs of a store; SQLite here, PostgreSQL by the same three calls."""

    def claim_many(self, requests: list[ClaimRequest]) -> list[Claim]:
        """Claim each prompt id for its trace (in order, atomically); return the owners."""
        ...

    def kept(self, dataset: str) -> int: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS kept_prompts (
    dataset   TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    trace_id  TEXT NOT NULL,
    source    TEXT NOT NULL,
    PRIMARY KEY (dataset, prompt_id)
) WITHOUT ROWID
"""


class SQLiteDedupStore:
    """One SQLite file shared by every sanitizer process on a machine (WAL, busy timeout)."""

    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Shells call from worker threads (asyncio.to_thread); the lock serialises them.
        self._db = sqlite3.connect(
            path, timeout=timeout_s, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses no committed claim on a process crash, only on power loss.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def claim_many(self, requests: list[ClaimRequest]) -> list[Claim]:
        if not requests:
            return []
        with self._lock:
            return self._claim_many(requests)

    def _claim_many(self, requests: list[ClaimRequest]) -> list[Claim]:
        db = self._db
        # BEGIN IMMEDIATE takes the write lock first: between two processes' batches, the
        # insert-or-ignore and the read of the owner see one consistent table.
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR IGNORE INTO kept_prompts (dataset, prompt_id, trace_id, source) "
                "VALUES (?, ?, ?, ?)",
                [(r.dataset, r.prompt_id, r.trace_id, r.source) for r in requests],
            )
            claims = []
            for r in requests:
                row = db.execute(
                    "SELECT trace_id, source FROM kept_prompts WHERE dataset = ? AND prompt_id = ?",
                    (r.dataset, r.prompt_id),
                ).fetchone()
                claims.append(Claim(r.prompt_id, row[0], row[1]))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return claims

    def kept(self, dataset: str) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM kept_prompts WHERE dataset = ?", (dataset,)
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()


def open_dedup_store(target: str | Path) -> DedupStore:
    """A store from a path (SQLite) or a URL. PostgreSQL is not implemented yet."""
    text = str(target)
    if text.startswith(("postgres://", "postgresql://")):
        raise NotImplementedError("a PostgreSQL dedup store is not implemented yet; use a path")
    return SQLiteDedupStore(Path(text.removeprefix("sqlite:///")))
