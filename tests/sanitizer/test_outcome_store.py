"""The sanitizer service's outcome store (its report and rejected view) behaves the same on
SQLite and on PostgreSQL, where replicas on several machines write one report together."""

from __future__ import annotations

import threading
from pathlib import Path

from rft_sanitizer.outcome_store import OutcomeStore
from rft_sanitizer.pipeline import RecordOutcome
from rft_schemas.traces import Rejection, RejectionReason, SourceLocation
from tests.categorizer.conftest import sanitized


def kept(trace_id: str, tokens: int | None = 12, emails: int = 0) -> RecordOutcome:
    prompt = sanitized(f"prompt-{trace_id}", "hello", token_count=tokens)
    return RecordOutcome(prompts=[prompt], redactions={"email": emails} if emails else {})


def refused(trace_id: str, reason: RejectionReason) -> RecordOutcome:
    return RecordOutcome(
        rejection=Rejection(
            id=f"rejection-{trace_id}",
            dataset="test",
            reason=reason,
            detail=f"{reason.value} in {trace_id}",
            source=SourceLocation(uri="traces.jsonl", line=1),
            trace_id=trace_id,
        )
    )


def test_the_report_counts_each_trace_once_even_when_it_is_delivered_again(
    sql_store_url: str,
) -> None:
    store = OutcomeStore(sql_store_url)
    store.record(["t1", "t2", "t3"], [
        kept("t1", emails=2), kept("t2", tokens=None), refused("t3", RejectionReason.DUPLICATE),
    ])
    # t3 re-delivered after a crash, and sanitized differently this time: it replaces itself
    store.record(["t3"], [kept("t3", tokens=30)])

    report = store.report("test")
    assert (report.input, report.valid, dict(report.rejected)) == (3, 3, {})
    assert report.redactions == {"email": 2}
    assert report.tokens.counted == 2 and report.tokens.estimated == 1
    store.close()
    assert OutcomeStore(sql_store_url).report("test").input == 3


def test_rejections_page_in_arrival_order_by_reason(sql_store_url: str) -> None:
    store = OutcomeStore(sql_store_url)
    reasons = [RejectionReason.DUPLICATE, RejectionReason.TOO_LONG] * 5
    store.record([f"t{i}" for i in range(10)], [refused(f"t{i}", r) for i, r in enumerate(reasons)])

    first, cursor = store.rejected("test", "duplicate", limit=3)
    rest, end = store.rejected("test", "duplicate", limit=3, cursor=cursor or 0)
    assert [r.trace_id for r in first + rest] == ["t0", "t2", "t4", "t6", "t8"]
    assert end is None
    everything, _ = store.rejected("test", None, limit=100)
    assert [r.trace_id for r in everything] == [f"t{i}" for i in range(10)]
    assert store.report("test").rejected == {"duplicate": 5, "too_long": 5}


def test_replicas_writing_at_once_never_lose_or_repeat_a_rejection(sql_store_url: str) -> None:
    replicas = [OutcomeStore(sql_store_url) for _ in range(3)]

    def write(replica: int) -> None:
        for batch in range(5):
            ids = [f"r{replica}-b{batch}-{i}" for i in range(4)]
            replicas[replica].record(ids, [refused(t, RejectionReason.TOO_LONG) for t in ids])

    threads = [threading.Thread(target=write, args=(r,)) for r in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    seen: list[str] = []
    cursor: int | None = 0
    while cursor is not None:
        page, cursor = replicas[0].rejected("test", "too_long", limit=7, cursor=cursor)
        seen += [r.trace_id or "" for r in page]
    assert len(seen) == 60 and len(set(seen)) == 60
    assert replicas[1].report("test").input == 60


def test_a_store_written_before_the_sequence_table_goes_on_numbering_after_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outcomes.sqlite"
    store = OutcomeStore(path)
    store.record(["t1", "t2"], [refused(t, RejectionReason.TOO_LONG) for t in ["t1", "t2"]])
    store.store.query("DROP TABLE outcome_sequence")  # as a file from before it existed
    store.close()

    reopened = OutcomeStore(path)
    reopened.record(["t3"], [refused("t3", RejectionReason.TOO_LONG)])
    page, _ = reopened.rejected("test", None, limit=10)
    assert [r.trace_id for r in page] == ["t1", "t2", "t3"]


def test_a_trace_twice_in_one_batch_keeps_its_later_outcome(sql_store_url: str) -> None:
    store = OutcomeStore(sql_store_url)
    store.record(["t1", "t1"], [kept("t1", tokens=12), refused("t1", RejectionReason.DUPLICATE)])
    report = store.report("test")
    assert (report.input, report.valid, dict(report.rejected)) == (1, 0, {"duplicate": 1})
    assert report.tokens.counted == 0


def test_the_report_sums_harness_fields_once_per_trace_and_names_the_bound(
    sql_store_url: str,
) -> None:
    from rft_schemas.traces import TokenBound

    bound = TokenBound(min_tokens=8, max_tokens=7936, source="model_config",
                       context_window=8192, completion_budget=256)
    store = OutcomeStore(sql_store_url, bound)
    harnessed = RecordOutcome(prompts=kept("t1").prompts,
                              harness={"role:exit": 1, "message.extra": 6})
    store.record(["t1", "t2"], [harnessed, kept("t2")])
    store.record(["t1"], [harnessed])  # re-delivered: counted once
    report = store.report("test")
    assert report.harness_dropped == {"message.extra": 6, "role:exit": 1}
    assert report.token_bound == bound
    store.record(["t1"], [refused("t1", RejectionReason.TOO_LONG)])  # now refused: nothing left
    assert store.report("test").harness_dropped == {}
    store.close()
