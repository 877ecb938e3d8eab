"""The sanitizer service's durable record of what happened to each trace.

The HTTP report and the rejected-records view read from here, so both stay correct after a
restart. Outcomes are keyed by trace id: a trace re-delivered after a crash (at-least-once)
overwrites its own row instead of being counted twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from rft_schemas.traces import Rejection, SanitizeReport, TokenStats

SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    dataset TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    format TEXT,
    prompts INTEGER NOT NULL,
    reason TEXT,
    rejection TEXT,
    tokens TEXT,
    redactions TEXT,
    seq INTEGER NOT NULL,
    PRIMARY KEY (dataset, trace_id)
);
CREATE INDEX IF NOT EXISTS outcomes_reason ON outcomes (dataset, reason, seq);
"""


class OutcomeStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM outcomes").fetchone()
        self._seq = int(row[0])

    def record(
        self,
        dataset: str,
        trace_id: str,
        *,
        format: str | None,
        prompts: int,
        rejection: Rejection | None = None,
        tokens: list[int] | None = None,
        redactions: dict[str, int] | None = None,
    ) -> None:
        with self._lock:
            self._seq += 1
            self._db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    dataset,
                    trace_id,
                    format,
                    prompts,
                    rejection.reason.value if rejection else None,
                    rejection.model_dump_json() if rejection else None,
                    json.dumps(tokens or []),
                    json.dumps(redactions or {}),
                    self._seq,
                ),
            )

    def report(self, dataset: str) -> SanitizeReport:
        rows = self._db.execute(
            "SELECT format, prompts, reason, tokens, redactions FROM outcomes WHERE dataset = ?",
            (dataset,),
        ).fetchall()
        rejected: Counter[str] = Counter()
        formats: Counter[str] = Counter()
        redactions: Counter[str] = Counter()
        counts: list[int] = []
        valid = prompts = 0
        for fmt, n_prompts, reason, tokens, redacted in rows:
            if fmt:
                formats[fmt] += 1
            if reason:
                rejected[reason] += 1
            else:
                valid += 1
                prompts += n_prompts
            counts.extend(json.loads(tokens))
            redactions.update(json.loads(redacted))
        return SanitizeReport(
            dataset=dataset,
            input=len(rows),
            valid=valid,
            prompts=prompts,
            rejected=dict(rejected.most_common()),
            redactions=dict(redactions),
            formats=dict(formats),
            tokens=token_stats(counts),
        )

    def rejected(
        self, dataset: str, reason: str | None, limit: int, cursor: int = 0
    ) -> tuple[list[Rejection], int | None]:
        """A page of rejections in arrival order; the cursor of the next page, or None."""
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


def token_stats(counts: list[int]) -> TokenStats:
    if not counts:
        return TokenStats()
    ordered = sorted(counts)
    return TokenStats(
        counted=len(ordered),
        total=sum(ordered),
        min=ordered[0],
        max=ordered[-1],
        mean=sum(ordered) / len(ordered),
        p50=ordered[len(ordered) // 2],
        p95=ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    )
