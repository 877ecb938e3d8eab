"""The durable job store: jobs and every validated candidate, so a killed job resumes.

A candidate row is written once, keyed by its deterministic id (job, topic, attempt index), in
the same transaction as the rest of its round: a round is either wholly recorded or redone, and
a prompt is never written twice. SQLite (WAL) by default; a ``postgresql://`` URL keeps the jobs
in PostgreSQL, so a job outlives its pod and any replica can resume it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rft_runtime.sql import SQLStore, SQLStoreError, open_sql_store
from rft_schemas import GenerationJob, GenerationRequest, JobStatus, SyntheticPrompt, TopicProgress

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    targets TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    generator_model TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS candidates (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    topic TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    reason TEXT,
    preview TEXT,
    synthetic TEXT,
    published INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, topic, attempt)
);
CREATE INDEX IF NOT EXISTS candidates_by_job ON candidates (job_id, topic, attempt);
"""


OVER_TARGET = "over_target"


class JobStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class CandidateRecord:
    """One validated candidate: accepted with its synthetic prompt, or failed with a reason."""

    id: str
    topic: str
    attempt: int
    accepted: bool
    reason: str | None = None
    preview: str = ""
    synthetic: SyntheticPrompt | None = None


def open_job_store(url: str) -> JobStore:
    """``sqlite:///path`` or ``postgresql://...``."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise JobStoreError(f"unsupported job store URL {url!r}: use sqlite:///path or postgresql://")
    try:
        return JobStore(open_sql_store(url))
    except SQLStoreError as exc:
        raise JobStoreError(str(exc)) from exc


class JobStore:
    def __init__(self, store: SQLStore) -> None:
        self.store = store
        store.create_schema(_SCHEMA)

    def create(self, request: GenerationRequest, targets: dict[str, int]) -> GenerationJob:
        """Create the job, or return the stored one: submitting a job id twice is a no-op."""
        now = _now()
        with self.store.transaction() as tx:
            tx.execute(
                "INSERT INTO jobs (id, request, targets, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (request.id, request.model_dump_json(), json.dumps(targets),
                 JobStatus.QUEUED.value, now, now),
            )
        job = self.get(request.id)
        assert job is not None
        return job

    def set_status(
        self, job_id: str, status: JobStatus, error: str | None = None, model: str | None = None
    ) -> None:
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = ?, error = ?, generator_model = COALESCE(?, "
                "generator_model), updated_at = ? WHERE id = ?",
                (JobStatus(status).value, error, model, _now(), job_id),
            )

    def job_ids(self, statuses: Sequence[JobStatus]) -> list[str]:
        marks = ",".join("?" * len(statuses))
        rows = self.store.query(
            f"SELECT id FROM jobs WHERE status IN ({marks}) ORDER BY created_at",
            [JobStatus(s).value for s in statuses],
        )
        return [row[0] for row in rows]

    def jobs_of(self, dataset: str) -> dict[str, JobStatus]:
        """The dataset's generation jobs (id -> status), oldest first."""
        rows = self.store.query("SELECT id, request, status FROM jobs ORDER BY created_at, id")
        return {row[0]: JobStatus(row[2]) for row in rows
                if GenerationRequest.model_validate_json(row[1]).dataset == dataset}

    def record(self, job_id: str, candidates: Sequence[CandidateRecord]) -> None:
        """Write one round's candidates at once; a candidate already stored is left as it is."""
        with self.store.transaction() as tx:
            tx.executemany(
                "INSERT INTO candidates (id, job_id, topic, attempt, accepted, reason, "
                "preview, synthetic) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (c.id, job_id, c.topic, c.attempt, int(c.accepted), c.reason, c.preview,
                     c.synthetic.model_dump_json() if c.synthetic else None)
                    for c in candidates
                ],
            )
            tx.execute("UPDATE jobs SET updated_at = ? WHERE id = ?", (_now(), job_id))

    def mark_published(self, ids: Sequence[str]) -> None:
        with self.store.transaction() as tx:
            tx.executemany("UPDATE candidates SET published = 1 WHERE id = ?", [(i,) for i in ids])

    def accepted(self, job_id: str, unpublished_only: bool = False) -> list[SyntheticPrompt]:
        query = "SELECT synthetic FROM candidates WHERE job_id = ? AND accepted = 1"
        if unpublished_only:
            query += " AND published = 0"
        rows = self.store.query(query + " ORDER BY topic, attempt", (job_id,))
        return [SyntheticPrompt.model_validate_json(row[0]) for row in rows]

    def attempts_by_topic(self, job_id: str) -> dict[str, tuple[int, int]]:
        """topic -> (candidates validated, candidates accepted)."""
        rows = self.store.query(
            "SELECT topic, COUNT(*), SUM(accepted) FROM candidates WHERE job_id = ? "
            "GROUP BY topic",
            (job_id,),
        )
        return {topic: (int(n), int(ok or 0)) for topic, n, ok in rows}

    def get(self, job_id: str, previews: int = 3) -> GenerationJob | None:
        with self.store.transaction() as tx:  # one consistent view of the job and its rounds
            rows = tx.execute(
                "SELECT request, targets, status, error, generator_model, created_at, updated_at "
                "FROM jobs WHERE id = ?",
                (job_id,),
            )
            if not rows:
                return None
            (row,) = rows
            counts = tx.execute(
                "SELECT topic, accepted, reason, COUNT(*) FROM candidates WHERE job_id = ? "
                "GROUP BY topic, accepted, reason",
                (job_id,),
            )
            shown = tx.execute(
                "SELECT topic, preview FROM candidates WHERE job_id = ? AND accepted = 1 "
                "ORDER BY topic, attempt",
                (job_id,),
            )
        targets: dict[str, int] = json.loads(row[1])
        progress = {t: TopicProgress(topic=t, target=n) for t, n in targets.items()}
        for topic, accepted, reason, n in counts:
            entry = progress.setdefault(topic, TopicProgress(topic=topic, target=0))
            if reason == OVER_TARGET:
                continue  # valid, but not needed: neither generated nor a failure
            entry.attempts += n
            if accepted:
                entry.generated += n
            else:
                entry.failures[reason] = entry.failures.get(reason, 0) + n
        for topic, preview in shown:
            if len(progress[topic].previews) < previews:
                progress[topic].previews.append(preview)
        return GenerationJob(
            id=job_id,
            request=GenerationRequest.model_validate_json(row[0]),
            status=JobStatus(row[2]),
            error=row[3],
            generator_model=row[4],
            topics=list(progress.values()),
            created_at=datetime.fromisoformat(row[5]),
            updated_at=datetime.fromisoformat(row[6]),
        )

    def close(self) -> None:
        self.store.close()


def _now() -> str:
    return datetime.now(UTC).isoformat()
