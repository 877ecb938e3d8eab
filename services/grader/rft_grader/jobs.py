"""The durable dry-run job store: SQLite under RFT_DATA_DIR, or PostgreSQL by URL.

A job keeps its spec and its rollout requests; which requests are done is derived from the
scores recorded, keyed by the stable rollout id, so a score delivered twice (at-least-once
Kafka, a worker restarted mid-batch) counts once, and a restarted service knows exactly what
is left. The report is stored with the job once every request has its score.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rft_runtime.sql import SQLStore, open_sql_store
from rft_schemas.rollouts import DryRunJob, DryRunReport, DryRunStatus, RolloutRequest, Score

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, dataset TEXT NOT NULL, spec TEXT NOT NULL, total INTEGER NOT NULL,
    published INTEGER NOT NULL DEFAULT 0, report TEXT, created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, job_id TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_job ON requests (job_id);
CREATE TABLE IF NOT EXISTS scores (
    rollout_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scores_job ON scores (job_id);
"""


@dataclass(frozen=True)
class JobSpec:
    """What building the report needs beside the scores."""

    dataset: str
    model: str
    grader_name: str
    samples_per_prompt: int
    histogram_bins: int = 20
    max_flat_share: float = 0.8
    max_error_share: float = 0.2


class JobStore:
    def __init__(self, target: str | Path) -> None:
        """``target``: a SQLite path, or a ``sqlite:///`` or ``postgresql://`` URL."""
        self.store: SQLStore = open_sql_store(target)
        self.store.create_schema(SCHEMA)

    def create(self, job_id: str, spec: JobSpec, requests: list[RolloutRequest]) -> bool:
        """Store a job and its requests; False when the same job exists already."""
        with self.store.transaction() as tx:
            created = tx.execute(
                "INSERT INTO jobs (id, dataset, spec, total, created) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (job_id, spec.dataset, json.dumps(spec.__dict__), len(requests), time.time()))
            if not created:
                return False
            tx.executemany(
                "INSERT INTO requests (id, job_id, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(r.id, job_id, r.model_dump_json()) for r in requests])
        return True

    def mark_published(self, job_id: str) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE jobs SET published = 1 WHERE id = ?", (job_id,))

    def published(self, job_id: str) -> bool:
        rows = self.store.query("SELECT published FROM jobs WHERE id = ?", (job_id,))
        return bool(rows and rows[0][0])

    def record(self, scores: Iterable[Score]) -> set[str]:
        """Keep the first score of each rollout; returns the jobs that got a new one."""
        touched: set[str] = set()
        with self.store.transaction() as tx:
            for score in scores:
                if tx.execute(
                    "INSERT INTO scores (rollout_id, job_id, body) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING RETURNING job_id",
                    (score.rollout_id, score.job_id, score.model_dump_json()),
                ):
                    touched.add(score.job_id)
        return touched

    def scored(self, rollout_ids: list[str]) -> set[str]:
        if not rollout_ids:
            return set()
        marks = ",".join("?" * len(rollout_ids))
        rows = self.store.query(
            f"SELECT rollout_id FROM scores WHERE rollout_id IN ({marks})", rollout_ids)
        return {row[0] for row in rows}

    def pending(self, job_id: str) -> list[RolloutRequest]:
        rows = self.store.query(
            "SELECT body FROM requests r WHERE job_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM scores s WHERE s.rollout_id = r.id) ORDER BY id",
            (job_id,))
        return [RolloutRequest.model_validate_json(row[0]) for row in rows]

    def scores(self, job_id: str) -> list[Score]:
        rows = self.store.query("SELECT body FROM scores WHERE job_id = ?", (job_id,))
        return [Score.model_validate_json(row[0]) for row in rows]

    def spec(self, job_id: str) -> JobSpec | None:
        rows = self.store.query("SELECT spec FROM jobs WHERE id = ?", (job_id,))
        return JobSpec(**json.loads(rows[0][0])) if rows else None

    def progress(self, job_id: str) -> tuple[int, int]:
        """(scored, total) of a job's requests."""
        with self.store.transaction() as tx:
            total = tx.execute("SELECT total FROM jobs WHERE id = ?", (job_id,))
            ((done,),) = tx.execute("SELECT COUNT(*) FROM scores WHERE job_id = ?", (job_id,))
        return int(done), int(total[0][0]) if total else 0

    def finish(self, job_id: str, report: DryRunReport) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE jobs SET report = ? WHERE id = ?",
                       (report.model_dump_json(), job_id))

    def unfinished(self) -> list[tuple[str, bool]]:
        """(job id, requests published) of every job without a report."""
        rows = self.store.query(
            "SELECT id, published FROM jobs WHERE report IS NULL ORDER BY created")
        return [(row[0], bool(row[1])) for row in rows]

    def get(self, job_id: str) -> DryRunJob | None:
        with self.store.transaction() as tx:
            rows = tx.execute("SELECT dataset, total, report, created FROM jobs WHERE id = ?",
                              (job_id,))
            if not rows:
                return None
            ((done,),) = tx.execute("SELECT COUNT(*) FROM scores WHERE job_id = ?", (job_id,))
        dataset, total, report, created = rows[0]
        extra: dict[str, Any] = {}
        if report is not None:
            extra["report"] = DryRunReport.model_validate_json(report)
        return DryRunJob(id=job_id, dataset=dataset, total=total, done=done,
                         status=DryRunStatus.DONE if report else DryRunStatus.RUNNING,
                         created_at=created, **extra)

    def close(self) -> None:
        self.store.close()
