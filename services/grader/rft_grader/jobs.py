"""The durable dry-run job store (SQLite under RFT_DATA_DIR).

A job keeps its spec and its rollout requests; which requests are done is derived from the
scores recorded, keyed by the stable rollout id, so a score delivered twice (at-least-once
Kafka, a worker restarted mid-batch) counts once, and a restarted service knows exactly what
is left. The report is stored with the job once every request has its score.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rft_schemas.rollouts import DryRunJob, DryRunReport, DryRunStatus, RolloutRequest, Score

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, dataset TEXT NOT NULL, spec TEXT NOT NULL, total INTEGER NOT NULL,
    published INTEGER NOT NULL DEFAULT 0, report TEXT, created REAL NOT NULL
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
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.path, timeout=30)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def create(self, job_id: str, spec: JobSpec, requests: list[RolloutRequest]) -> bool:
        """Store a job and its requests; False when the same job exists already."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO jobs (id, dataset, spec, total, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (job_id, spec.dataset, json.dumps(spec.__dict__), len(requests), time.time()))
            if cursor.rowcount == 0:
                return False
            db.executemany("INSERT OR IGNORE INTO requests (id, job_id, body) VALUES (?, ?, ?)",
                           [(r.id, job_id, r.model_dump_json()) for r in requests])
        return True

    def mark_published(self, job_id: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE jobs SET published = 1 WHERE id = ?", (job_id,))

    def published(self, job_id: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT published FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def record(self, scores: Iterable[Score]) -> set[str]:
        """Keep the first score of each rollout; returns the jobs that got a new one."""
        touched: set[str] = set()
        with self._connect() as db:
            for score in scores:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO scores (rollout_id, job_id, body) VALUES (?, ?, ?)",
                    (score.rollout_id, score.job_id, score.model_dump_json()))
                if cursor.rowcount:
                    touched.add(score.job_id)
        return touched

    def scored(self, rollout_ids: list[str]) -> set[str]:
        if not rollout_ids:
            return set()
        with self._connect() as db:
            marks = ",".join("?" * len(rollout_ids))
            rows = db.execute(f"SELECT rollout_id FROM scores WHERE rollout_id IN ({marks})",
                              rollout_ids).fetchall()
        return {row[0] for row in rows}

    def pending(self, job_id: str) -> list[RolloutRequest]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT body FROM requests r WHERE job_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM scores s WHERE s.rollout_id = r.id) ORDER BY id",
                (job_id,)).fetchall()
        return [RolloutRequest.model_validate_json(row[0]) for row in rows]

    def scores(self, job_id: str) -> list[Score]:
        with self._connect() as db:
            rows = db.execute("SELECT body FROM scores WHERE job_id = ?", (job_id,)).fetchall()
        return [Score.model_validate_json(row[0]) for row in rows]

    def spec(self, job_id: str) -> JobSpec | None:
        with self._connect() as db:
            row = db.execute("SELECT spec FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobSpec(**json.loads(row[0])) if row else None

    def progress(self, job_id: str) -> tuple[int, int]:
        """(scored, total) of a job's requests."""
        with self._connect() as db:
            total = db.execute("SELECT total FROM jobs WHERE id = ?", (job_id,)).fetchone()
            done = db.execute("SELECT COUNT(*) FROM scores WHERE job_id = ?",
                              (job_id,)).fetchone()
        return int(done[0]), int(total[0]) if total else 0

    def finish(self, job_id: str, report: DryRunReport) -> None:
        with self._connect() as db:
            db.execute("UPDATE jobs SET report = ? WHERE id = ?",
                       (report.model_dump_json(), job_id))

    def unfinished(self) -> list[tuple[str, bool]]:
        """(job id, requests published) of every job without a report."""
        with self._connect() as db:
            rows = db.execute("SELECT id, published FROM jobs WHERE report IS NULL "
                              "ORDER BY created").fetchall()
        return [(row[0], bool(row[1])) for row in rows]

    def get(self, job_id: str) -> DryRunJob | None:
        with self._connect() as db:
            row = db.execute("SELECT dataset, total, report, created FROM jobs WHERE id = ?",
                             (job_id,)).fetchone()
            if row is None:
                return None
            done = db.execute("SELECT COUNT(*) FROM scores WHERE job_id = ?",
                              (job_id,)).fetchone()[0]
        dataset, total, report, created = row
        extra: dict[str, Any] = {}
        if report is not None:
            extra["report"] = DryRunReport.model_validate_json(report)
        return DryRunJob(id=job_id, dataset=dataset, total=total, done=done,
                         status=DryRunStatus.DONE if report else DryRunStatus.RUNNING,
                         created_at=created, **extra)
