"""Journeys in the gateway's store (the training jobs' SQLite file or PostgreSQL database): one
row per dataset, the journey as the API shows it, and the replica that drives it, so a
restarted gateway finds the journeys it left unfinished."""

from __future__ import annotations

import time

from rft_runtime.sql import SQLStore
from rft_schemas import Journey, JourneyStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS journeys (
    dataset TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL,
    updated DOUBLE PRECISION NOT NULL
)
"""


class JourneyStore:
    def __init__(self, sql: SQLStore) -> None:
        self.sql = sql
        sql.create_schema(SCHEMA)

    def get(self, dataset: str) -> Journey | None:
        rows = self.sql.query("SELECT body FROM journeys WHERE dataset = ?", (dataset,))
        return Journey.model_validate_json(rows[0][0]) if rows else None

    def owner(self, dataset: str) -> str | None:
        rows = self.sql.query("SELECT owner FROM journeys WHERE dataset = ?", (dataset,))
        return str(rows[0][0]) if rows else None

    def put(self, journey: Journey, owner: str) -> None:
        with self.sql.transaction() as tx:
            tx.execute(
                "INSERT INTO journeys (dataset, status, owner, body, updated) VALUES "
                "(?, ?, ?, ?, ?) ON CONFLICT (dataset) DO UPDATE SET status = excluded.status, "
                "owner = excluded.owner, body = excluded.body, updated = excluded.updated",
                (journey.dataset, journey.status.value, owner, journey.model_dump_json(),
                 time.time()))

    def unfinished(self, owner: str) -> list[str]:
        """Datasets whose journey ``owner`` was driving when it stopped."""
        rows = self.sql.query(
            "SELECT dataset FROM journeys WHERE status = ? AND owner = ? ORDER BY updated",
            (JourneyStatus.RUNNING.value, owner))
        return [row[0] for row in rows]
