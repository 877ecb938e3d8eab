"""The sanitizer service's durable record of what happened to each trace.

The HTTP report and the rejected-records view read from here, so both stay correct after a
restart. Outcomes are keyed by (dataset, trace id): a trace re-delivered after a crash
(at-least-once) replaces its own rows instead of being counted twice. One SQLite file per
machine; the report of a multi-replica deployment needs the rows in one shared database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from rft_sanitizer.pipeline import RecordOutcome, ReportBuilder
from rft_schemas.traces import Rejection, SanitizeReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    dataset TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    format TEXT,
    prompts INTEGER NOT NULL,
    estimated INTEGER NOT NULL,
    reason TEXT,
    rejection TEXT,
    dropped TEXT NOT NULL,
    redactions TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (dataset, trace_id)
);
CREATE INDEX IF NOT EXISTS outcomes_by_reason ON outcomes (dataset, reason, seq);
CREATE TABLE IF NOT EXISTS prompt_tokens (
    dataset TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    PRIMARY KEY (dataset, trace_id, prompt_id)
);
"""


class OutcomeStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def record(self, trace_ids: list[str], outcomes: list[RecordOutcome]) -> None:
        """Record a batch of outcomes in one transaction (replacing earlier ones by trace id)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM outcomes").fetchone()[0])
                for trace_id, outcome in zip(trace_ids, outcomes, strict=True):
                    seq += 1
                    dataset = _dataset(outcome)
                    db.execute(
                        "DELETE FROM prompt_tokens WHERE dataset = ? AND trace_id = ?",
                        (dataset, trace_id),
                    )
                    db.execute(
                        "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        _row(dataset, trace_id, outcome, seq),
                    )
                    db.executemany(
                        "INSERT OR REPLACE INTO prompt_tokens VALUES (?, ?, ?, ?)",
                        [
                            (dataset, trace_id, p.id, p.token_count)
                            for p in outcome.prompts
                            if p.token_count is not None
                        ],
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def report(self, dataset: str, tokenizer: str | None = None) -> SanitizeReport:
        builder = ReportBuilder(dataset, tokenizer)
        rows = self._db.execute(
            "SELECT format, prompts, estimated, reason, dropped, redactions FROM outcomes "
            "WHERE dataset = ?",
            (dataset,),
        )
        for fmt, prompts, estimated, reason, dropped, redactions in rows:
            builder.input += 1
            if reason:
                builder.rejected[reason] += 1
                continue
            builder.valid += 1
            builder.prompts += prompts
            builder.estimated += estimated
            builder.formats[fmt] += 1
            builder.dropped.update(json.loads(dropped))
            builder.redactions.update(json.loads(redactions))
        histogram = self._db.execute(
            "SELECT tokens, COUNT(*) FROM prompt_tokens WHERE dataset = ? GROUP BY tokens",
            (dataset,),
        )
        builder.token_histogram = Counter(dict(histogram.fetchall()))
        return builder.report()

    def rejected(
        self, dataset: str, reason: str | None, limit: int, cursor: int = 0
    ) -> tuple[list[Rejection], int | None]:
        """A page of rejections in arrival order, and the cursor of the next page (or None)."""
        query = "SELECT seq, rejection FROM outcomes WHERE dataset = ? AND reason IS NOT NULL"
        params: list[object] = [dataset]
        if reason:
            query += " AND reason = ?"
            params.append(reason)
        query += " AND seq > ? ORDER BY seq LIMIT ?"
        params += [cursor, limit + 1]
        rows = self._db.execute(query, params).fetchall()
        page = rows[:limit]
        next_cursor = int(page[-1][0]) if len(rows) > limit else None
        return [Rejection.model_validate_json(r[1]) for r in page], next_cursor

    def close(self) -> None:
        self._db.close()


def _dataset(outcome: RecordOutcome) -> str:
    if outcome.rejection is not None:
        return str(outcome.rejection.dataset)
    return str(outcome.prompts[0].dataset)


def _row(dataset: str, trace_id: str, outcome: RecordOutcome, seq: int) -> tuple[object, ...]:
    refused = outcome.rejection
    return (
        dataset,
        trace_id,
        outcome.prompts[0].lineage.format.value if outcome.prompts else None,
        len(outcome.prompts),
        sum(1 for p in outcome.prompts if p.token_count is None),
        refused.reason.value if refused else None,
        refused.model_dump_json() if refused else None,
        json.dumps(outcome.dropped),
        json.dumps(outcome.redactions),
        seq,
    )
