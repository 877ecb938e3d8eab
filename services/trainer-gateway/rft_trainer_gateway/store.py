"""The durable training-job store: SQLite under RFT_DATA_DIR, or PostgreSQL by URL.

A job row keeps the job as the API shows it, the request it came from (rows inline, as they were
validated), the backend's handle of its training process (what a restarted gateway re-attaches
by), how far the job's event log has been read, and how far its events were published. Events
are stored too, so any replica serves any job's events, even when the job's directory is on
another replica's disk.

Every change of a job is a read-modify-write guarded by a version number: the supervisor's
updates from events and an API cancel never overwrite each other. Events get the store's own
``seq`` (1, 2, ... per job), which is the SSE id: the gateway's own notes (re-attached, resumed)
and the training process's events are one sequence.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rft_runtime.sql import SQLStore, Transaction, open_sql_store
from rft_schemas import JobStatus, TrainingEvent, TrainingJob, TrainingJobRequest
from rft_trainer_gateway.backends.base import RunHandle

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    owner TEXT,
    body TEXT NOT NULL,
    request TEXT NOT NULL,
    handle TEXT,
    read_seq INTEGER NOT NULL DEFAULT 0,
    published_seq INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    created DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created, id);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
)
"""

MAX_WRITE_TRIES = 50


def _back_off(attempt: int) -> None:
    """A jittered, growing pause after a lost race: writers retrying in lockstep would keep
    invalidating each other's versions (4 replicas exhausted 20 immediate retries on
    PostgreSQL)."""
    time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** attempt)))


class JobNotFound(LookupError):
    pass


class WriteConflict(RuntimeError):
    """A job changed under a read-modify-write more than MAX_WRITE_TRIES times."""


Mutation = Callable[[TrainingJob], TrainingJob | None]
"""The job as it should be now, or None to leave it as it is."""


@dataclass(frozen=True)
class JobRecord:
    job: TrainingJob
    request: TrainingJobRequest
    handle: RunHandle | None
    owner: str | None
    read_seq: int
    published_seq: int


@dataclass(frozen=True)
class JobPage:
    jobs: list[TrainingJob]
    has_more: bool


class _Stale(Exception):
    """The row's version moved between the read and the write: read again."""


class JobStore:
    def __init__(self, target: str) -> None:
        """``target``: a SQLite path, or a ``sqlite:///`` or ``postgresql://`` URL."""
        self.sql: SQLStore = open_sql_store(target)
        self.sql.create_schema(SCHEMA)

    def create(self, job: TrainingJob, request: TrainingJobRequest) -> TrainingJob:
        with self.sql.transaction() as tx:
            tx.execute(
                "INSERT INTO jobs (id, status, body, request, created) VALUES (?, ?, ?, ?, ?)",
                (job.id, job.status.value, job.model_dump_json(), request.model_dump_json(),
                 job.created_at.timestamp() if job.created_at else time.time()))
        return job

    def get(self, job_id: str) -> TrainingJob | None:
        rows = self.sql.query("SELECT body FROM jobs WHERE id = ?", (job_id,))
        return TrainingJob.model_validate_json(rows[0][0]) if rows else None

    def record(self, job_id: str) -> JobRecord:
        rows = self.sql.query(
            "SELECT body, request, handle, owner, read_seq, published_seq FROM jobs WHERE id = ?",
            (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        body, request, handle, owner, read_seq, published_seq = rows[0]
        return JobRecord(
            job=TrainingJob.model_validate_json(body),
            request=TrainingJobRequest.model_validate_json(request),
            handle=RunHandle.model_validate_json(handle) if handle else None,
            owner=owner, read_seq=int(read_seq), published_seq=int(published_seq))

    def page(self, after: str | None = None, limit: int = 20) -> JobPage:
        """Newest first; ``after``: the last job id of the previous page."""
        if after is None:
            rows = self.sql.query(
                "SELECT body FROM jobs ORDER BY created DESC, id DESC LIMIT ?", (limit + 1,))
        else:
            rows = self.sql.query(
                "SELECT j.body FROM jobs j, jobs a WHERE a.id = ? AND (j.created < a.created OR "
                "(j.created = a.created AND j.id < a.id)) ORDER BY j.created DESC, j.id DESC "
                "LIMIT ?", (after, limit + 1))
        jobs = [TrainingJob.model_validate_json(row[0]) for row in rows]
        return JobPage(jobs=jobs[:limit], has_more=len(jobs) > limit)

    def ids(self, statuses: Sequence[JobStatus], owner: str | None = None) -> list[str]:
        """Jobs in one of ``statuses``, oldest first; with ``owner``, only that replica's."""
        marks = ", ".join("?" * len(statuses))
        sql = f"SELECT id FROM jobs WHERE status IN ({marks})"
        params: list[str] = [s.value for s in statuses]
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        return [row[0] for row in self.sql.query(sql + " ORDER BY created, id", params)]

    def counts(self) -> dict[JobStatus, int]:
        rows = self.sql.query("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return {JobStatus(status): int(n) for status, n in rows}

    def update(self, job_id: str, mutate: Mutation, *, owner: str | None = None,
               handle: RunHandle | None = None) -> TrainingJob | None:
        """Apply ``mutate`` to the job as stored now; None when it left the job as it was.
        ``owner`` and ``handle``, when given, are stored with the change."""
        for attempt in range(MAX_WRITE_TRIES):
            try:
                with self.sql.transaction() as tx:
                    return self._mutate(tx, job_id, mutate, owner=owner, handle=handle)
            except _Stale:
                _back_off(attempt)
        raise WriteConflict(f"job {job_id} kept changing under an update")

    def claim(self, job_id: str, owner: str, mutate: Mutation) -> TrainingJob | None:
        """Take a queued job for ``owner``: None when another replica (or a cancel) was first."""

        def take(job: TrainingJob) -> TrainingJob | None:
            return mutate(job) if job.status is JobStatus.QUEUED else None

        return self.update(job_id, take, owner=owner)

    def append_events(self, job_id: str, events: Sequence[TrainingEvent],
                      mutate: Mutation | None = None, read_seq: int | None = None,
                      handle: RunHandle | None = None,
                      require_change: bool = False) -> list[TrainingEvent]:
        """Store ``events`` (renumbered after the job's last), apply ``mutate``, move the
        event-log read position to ``read_seq`` and keep ``handle``, all in one transaction: a
        gateway that dies between two calls neither loses nor repeats an event. Returns the
        events as stored; with ``require_change``, none are stored unless ``mutate`` changed
        the job."""
        for attempt in range(MAX_WRITE_TRIES):
            try:
                with self.sql.transaction() as tx:
                    changed = self._mutate(tx, job_id, mutate or (lambda _: None),
                                           handle=handle)
                    if require_change and changed is None:
                        return []
                    ((last,),) = tx.execute(
                        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = ?", (job_id,))
                    stored = [event.model_copy(update={"seq": int(last) + i, "job_id": job_id})
                              for i, event in enumerate(events, start=1)]
                    tx.executemany("INSERT INTO events (job_id, seq, body) VALUES (?, ?, ?)",
                                   [(job_id, e.seq, e.model_dump_json()) for e in stored])
                    if read_seq is not None:
                        tx.execute("UPDATE jobs SET read_seq = ? WHERE id = ?", (read_seq, job_id))
                return stored
            except _Stale:
                _back_off(attempt)
        raise WriteConflict(f"job {job_id} kept changing while its events were stored")

    def events(self, job_id: str, after: int = 0, limit: int = 100) -> list[TrainingEvent]:
        rows = self.sql.query(
            "SELECT body FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (job_id, after, limit))
        return [TrainingEvent.model_validate_json(row[0]) for row in rows]

    def unpublished(self, owner: str) -> list[str]:
        """Jobs of ``owner`` (or of none: cancelled while queued) with events not yet
        acknowledged by the broker."""
        rows = self.sql.query(
            "SELECT id FROM jobs j WHERE (owner = ? OR owner IS NULL) AND published_seq < "
            "(SELECT COALESCE(MAX(seq), 0) FROM events e WHERE e.job_id = j.id)", (owner,))
        return [row[0] for row in rows]

    def mark_published(self, job_id: str, seq: int) -> None:
        with self.sql.transaction() as tx:
            tx.execute("UPDATE jobs SET published_seq = ? WHERE id = ? AND published_seq < ?",
                       (seq, job_id, seq))

    def close(self) -> None:
        self.sql.close()

    @staticmethod
    def _mutate(tx: Transaction, job_id: str, mutate: Mutation, *, owner: str | None = None,
                handle: RunHandle | None = None) -> TrainingJob | None:
        rows = tx.execute("SELECT body, version FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        job = TrainingJob.model_validate_json(rows[0][0])
        changed = mutate(job)
        if changed is None:
            return None
        written = tx.execute(
            "UPDATE jobs SET body = ?, status = ?, owner = COALESCE(?, owner), "
            "handle = COALESCE(?, handle), version = version + 1 WHERE id = ? AND version = ? "
            "RETURNING id",
            (changed.model_dump_json(), changed.status.value, owner,
             handle.model_dump_json() if handle else None, job_id, rows[0][1]))
        if not written:
            raise _Stale
        return changed
