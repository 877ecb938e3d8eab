"""Step F's splits as the generator service keeps them: one per dataset, in the generator's
store (the same SQLite file or PostgreSQL database as its jobs), so every replica serves it and
it outlives a pod. A new split of a dataset replaces the old one in one transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rft_runtime.sql import SQLStore
from rft_schemas import DatasetSplit, SplitManifest, SplitRequest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS splits (
    dataset TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    manifest TEXT NOT NULL,
    synthetic_jobs TEXT NOT NULL,
    train_rows INTEGER NOT NULL,
    valid_rows INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS split_rows (
    dataset TEXT NOT NULL,
    side TEXT NOT NULL,
    position INTEGER NOT NULL,
    row_json TEXT NOT NULL,
    PRIMARY KEY (dataset, side, position)
);
"""

SIDES = ("train", "valid")


class SplitStore:
    def __init__(self, store: SQLStore) -> None:
        self.store = store
        store.create_schema(_SCHEMA)

    def put(self, split: DatasetSplit) -> None:
        """Store ``split`` (its rows included) in place of the dataset's previous one."""
        rows = {"train": split.train or [], "valid": split.valid or []}
        with self.store.transaction() as tx:
            tx.execute("DELETE FROM split_rows WHERE dataset = ?", (split.dataset,))
            tx.execute("DELETE FROM splits WHERE dataset = ?", (split.dataset,))
            tx.execute(
                "INSERT INTO splits (dataset, request, manifest, synthetic_jobs, train_rows, "
                "valid_rows, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (split.dataset, split.request.model_dump_json(), split.manifest.model_dump_json(),
                 json.dumps(split.synthetic_jobs), len(rows["train"]), len(rows["valid"]),
                 split.created_at.isoformat()),
            )
            tx.executemany(
                "INSERT INTO split_rows (dataset, side, position, row_json) VALUES (?, ?, ?, ?)",
                [(split.dataset, side, i, json.dumps(row, ensure_ascii=False))
                 for side in SIDES for i, row in enumerate(rows[side])],
            )

    def get(self, dataset: str, with_rows: bool = True) -> DatasetSplit | None:
        with self.store.transaction() as tx:  # the split and its rows as one version
            found = tx.execute(
                "SELECT request, manifest, synthetic_jobs, train_rows, valid_rows, created_at "
                "FROM splits WHERE dataset = ?", (dataset,))
            if not found:
                return None
            rows: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
            if with_rows:
                for side, row in tx.execute(
                        "SELECT side, row_json FROM split_rows WHERE dataset = ? "
                        "ORDER BY side, position", (dataset,)):
                    rows[side].append(json.loads(row))
        request, manifest, jobs, train_rows, valid_rows, created_at = found[0]
        return DatasetSplit(
            dataset=dataset, request=SplitRequest.model_validate_json(request),
            manifest=SplitManifest.model_validate_json(manifest),
            synthetic_jobs=json.loads(jobs), train_rows=int(train_rows),
            valid_rows=int(valid_rows), created_at=datetime.fromisoformat(created_at),
            train=rows["train"] if with_rows else None,
            valid=rows["valid"] if with_rows else None,
        )
