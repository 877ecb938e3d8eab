"""The durable record of kept prompts, so that a duplicate is one across restarts and replicas.

A claim is an atomic insert-or-get keyed by (dataset, prompt id): the first writer wins and owns
the prompt. The owner is a trace id, so re-processing the same trace after a crash (the
at-least-once redelivery the Kafka stage relies on) finds its own claim and keeps the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Protocol

from rft_runtime.sql import SQLStore, in_lists, open_sql_store


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
    """What the sanitizer needs of a store."""

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
)
"""


class SQLDedupStore:
    """Kept prompt ids in SQLite (one machine) or PostgreSQL (replicas on several machines)."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        store.create_schema(_SCHEMA)

    def claim_many(self, requests: list[ClaimRequest]) -> list[Claim]:
        if not requests:
            return []
        # One order for every writer: two replicas' batches that share prompts then lock rows
        # in the same order and wait for each other instead of deadlocking (PostgreSQL).
        # Within a batch the earlier request wins, as it would across batches.
        first: dict[tuple[str, str], ClaimRequest] = {}
        for r in requests:
            first.setdefault((r.dataset, r.prompt_id), r)
        ordered = [first[key] for key in sorted(first)]
        owners: dict[tuple[str, str], Claim] = {}
        with self.store.transaction() as tx:
            tx.executemany(
                "INSERT INTO kept_prompts (dataset, prompt_id, trace_id, source) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(r.dataset, r.prompt_id, r.trace_id, r.source) for r in ordered],
            )
            # Read committed: a row another replica committed first is seen here. The owners
            # are read a chunk of ids per statement, not one statement per id.
            for dataset, group in groupby(ordered, key=lambda r: r.dataset):
                for marks, ids in in_lists([r.prompt_id for r in group]):
                    for prompt_id, trace_id, source in tx.execute(
                        "SELECT prompt_id, trace_id, source FROM kept_prompts "
                        f"WHERE dataset = ? AND prompt_id IN ({marks})",
                        (dataset, *ids),
                    ):
                        owners[(dataset, prompt_id)] = Claim(prompt_id, trace_id, source)
        return [owners[(r.dataset, r.prompt_id)] for r in requests]

    def kept(self, dataset: str) -> int:
        ((count,),) = self.store.query(
            "SELECT COUNT(*) FROM kept_prompts WHERE dataset = ?", (dataset,)
        )
        return int(count)

    def close(self) -> None:
        self.store.close()


def open_dedup_store(target: str | Path) -> DedupStore:
    """A store from a path or ``sqlite:///`` URL (SQLite, WAL: every process of one machine)
    or a ``postgresql://`` URL (every replica, wherever it runs)."""
    # NORMAL sync: a claim lost to a power cut is re-made when its trace is redelivered.
    return SQLDedupStore(open_sql_store(target, durable=False))
