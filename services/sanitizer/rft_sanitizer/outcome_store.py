"""The sanitizer service's durable record of what happened to each trace.

The HTTP report and the rejected-records view read from here, so both stay correct after a
restart. Outcomes are keyed by (dataset, trace id): a trace re-delivered after a crash
(at-least-once) replaces its own rows instead of being counted twice. A SQLite file on one
machine; replicas on several share one PostgreSQL by URL (``RFT_SANITIZER_OUTCOME_STORE``), so
the report counts what every replica did.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from rft_runtime.sql import SQLStore, Transaction, open_sql_store
from rft_sanitizer.pipeline import RecordOutcome, ReportBuilder
from rft_schemas.traces import Rejection, SanitizeReport, TokenBound

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
CREATE TABLE IF NOT EXISTS outcome_harness (
    dataset TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    harness TEXT NOT NULL,
    PRIMARY KEY (dataset, trace_id)
);
CREATE TABLE IF NOT EXISTS outcome_sequence (
    id INTEGER PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO outcome_sequence (id, last) SELECT 1, COALESCE(MAX(seq), 0) FROM outcomes WHERE true
ON CONFLICT DO NOTHING
"""
_UPSERT_OUTCOME = (
    "INSERT INTO outcomes (dataset, trace_id, format, prompts, estimated, reason, rejection, "
    "dropped, redactions, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (dataset, trace_id) DO UPDATE SET format = excluded.format, "
    "prompts = excluded.prompts, estimated = excluded.estimated, reason = excluded.reason, "
    "rejection = excluded.rejection, dropped = excluded.dropped, "
    "redactions = excluded.redactions, seq = excluded.seq"
)


class OutcomeStore:
    def __init__(
        self,
        target: str | Path,
        token_bound: TokenBound | None = None,
        closing_test: str | None = None,
    ) -> None:
        self.store: SQLStore = open_sql_store(target, durable=False)
        self.store.create_schema(SCHEMA)
        # What this replica's policy applies, for the report (every replica of a deployment
        # shares its settings).
        self.token_bound = token_bound
        self.closing_test = closing_test

    def record(self, trace_ids: list[str], outcomes: list[RecordOutcome]) -> None:
        """Record a batch of outcomes in one transaction (replacing earlier ones by trace id)."""
        with self.store.transaction() as tx:
            first = _take_sequence(tx, len(outcomes))
            # Three statements for the whole batch, not three per trace (a round trip each on
            # PostgreSQL); a trace twice in one batch keeps its later outcome, as it would
            # have one statement at a time.
            latest: dict[tuple[str, str], tuple[int, RecordOutcome]] = {}
            for seq, (trace_id, outcome) in enumerate(zip(trace_ids, outcomes, strict=True),
                                                      start=first + 1):
                latest[(_dataset(outcome), trace_id)] = (seq, outcome)
            tx.executemany(
                "DELETE FROM prompt_tokens WHERE dataset = ? AND trace_id = ?", list(latest)
            )
            # Harness fields and markers left out: a table of their own (most outcomes have
            # none), so stores written before it existed need no migration.
            tx.executemany(
                "DELETE FROM outcome_harness WHERE dataset = ? AND trace_id = ?", list(latest)
            )
            tx.executemany(
                "INSERT INTO outcome_harness (dataset, trace_id, harness) VALUES (?, ?, ?)",
                [
                    (dataset, trace_id, json.dumps(outcome.harness))
                    for (dataset, trace_id), (_, outcome) in latest.items()
                    if outcome.harness
                ],
            )
            tx.executemany(
                _UPSERT_OUTCOME,
                [_row(dataset, trace_id, outcome, seq)
                 for (dataset, trace_id), (seq, outcome) in latest.items()],
            )
            tx.executemany(
                "INSERT INTO prompt_tokens (dataset, trace_id, prompt_id, tokens) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (dataset, trace_id, prompt_id) "
                "DO UPDATE SET tokens = excluded.tokens",
                [
                    (dataset, trace_id, p.id, p.token_count)
                    for (dataset, trace_id), (_, outcome) in latest.items()
                    for p in outcome.prompts
                    if p.token_count is not None
                ],
            )

    def report(self, dataset: str, tokenizer: str | None = None) -> SanitizeReport:
        builder = ReportBuilder(dataset, tokenizer, self.token_bound, self.closing_test)
        rows = self.store.query(
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
        histogram = self.store.query(
            "SELECT tokens, COUNT(*) FROM prompt_tokens WHERE dataset = ? GROUP BY tokens",
            (dataset,),
        )
        builder.token_histogram = Counter({int(t): int(n) for t, n in histogram})
        for (harness,) in self.store.query(
            "SELECT harness FROM outcome_harness WHERE dataset = ?", (dataset,)
        ):
            builder.harness.update(json.loads(harness))
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
        rows = self.store.query(query, params)
        page = rows[:limit]
        next_cursor = int(page[-1][0]) if len(rows) > limit else None
        return [Rejection.model_validate_json(r[1]) for r in page], next_cursor

    def close(self) -> None:
        self.store.close()


def _take_sequence(tx: Transaction, count: int) -> int:
    """Reserve ``count`` arrival numbers; returns the one before the first. The counter row is
    locked until the transaction ends, so replicas writing at once never share a number (the
    rejected view pages by it)."""
    ((last,),) = tx.execute(
        "UPDATE outcome_sequence SET last = last + ? WHERE id = 1 RETURNING last", (count,)
    )
    return int(last) - count


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
