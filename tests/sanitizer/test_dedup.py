"""The durable dedup store: first writer wins, across restarts and across processes, and a
trace re-processed after a crash still owns its prompt."""

from __future__ import annotations

import multiprocessing
import random
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from rft_sanitizer.dedup import ClaimRequest, open_dedup_store
from rft_sanitizer.pipeline import ReportBuilder, Sanitizer
from rft_sanitizer.settings import ExtractionPolicy


def request(prompt: str, trace: str) -> ClaimRequest:
    return ClaimRequest("ds", prompt, trace, f"file.jsonl:{trace}")


def test_first_writer_wins_and_the_owner_keeps_its_claim(sql_store_url: str):
    store = open_dedup_store(sql_store_url)
    first, second, again = store.claim_many(
        [request("p1", "t1"), request("p1", "t2"), request("p1", "t1")]
    )
    assert first.owned_by("t1") and not second.owned_by("t2") and again.owned_by("t1")
    assert second.owner_source == "file.jsonl:t1"


def test_claims_survive_a_restart(sql_store_url: str):
    store = open_dedup_store(sql_store_url)
    store.claim_many([request("p1", "t1")])
    store.close()
    reopened = open_dedup_store(sql_store_url)
    (claim,) = reopened.claim_many([request("p1", "t9")])
    assert claim.owner_trace == "t1"
    assert reopened.kept("ds") == 1


def test_datasets_do_not_share_prompts(sql_store_url: str):
    store = open_dedup_store(sql_store_url)
    a, b = store.claim_many(
        [ClaimRequest("a", "p1", "t1", "x"), ClaimRequest("b", "p1", "t2", "y")]
    )
    assert a.owned_by("t1") and b.owned_by("t2")


def _claim_all(target: str, worker: int, prompts: int, queue) -> None:
    store = open_dedup_store(target)
    owners = {}
    # Each worker walks the prompts in its own order, so batches overlap in every way.
    order = list(range(prompts))
    random.Random(worker).shuffle(order)
    for start in range(0, prompts, 50):
        batch = [request(f"p{i}", f"w{worker}-t{i}") for i in order[start:start + 50]]
        for claim in store.claim_many(batch):
            owners[claim.prompt_id] = claim.owner_trace
    store.close()
    queue.put(owners)


def test_several_replicas_agree_on_one_owner_per_prompt(sql_store_url: str):
    open_dedup_store(sql_store_url).close()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_claim_all, args=(sql_store_url, w, 300, queue)) for w in range(3)
    ]
    for process in workers:
        process.start()
    results = [queue.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=60)
    for prompt in (f"p{i}" for i in range(300)):
        owners = {result[prompt] for result in results}
        assert len(owners) == 1, prompt  # every replica saw the same single winner
    winners = {results[0][f"p{i}"].split("-")[0] for i in range(300)}
    assert winners <= {"w0", "w1", "w2"}
    assert open_dedup_store(sql_store_url).kept("ds") == 300


def test_reprocessing_a_trace_after_a_crash_is_not_a_duplicate_of_itself(
    tmp_path: Path, trace, policy
):
    record = trace({"messages": [
        {"role": "system", "content": "You are a support agent for an airline with tools."},
        {"role": "user", "content": "Please check booking ABC123 for me."}]})
    copy = trace(record.payload, line=7)
    store = open_dedup_store(tmp_path / "dedup.sqlite")
    (first,) = Sanitizer(policy, store).process_batch([record])
    store.close()  # the process dies after claiming, before writing its output
    restarted = open_dedup_store(tmp_path / "dedup.sqlite")
    redelivered, duplicate = Sanitizer(policy, restarted).process_batch([record, copy])
    assert first.prompts and redelivered.prompts
    assert redelivered.prompts[0].id == first.prompts[0].id
    assert duplicate.rejection is not None and duplicate.rejection.reason == "duplicate"
    assert duplicate.rejection.duplicate_of == first.prompts[0].id
    assert "test.jsonl:1" in duplicate.rejection.detail



def test_per_user_turn_drops_only_the_prompts_already_kept(tmp_path: Path, trace, policy):
    system = {"role": "system", "content": "You are a support agent for an airline with tools."}
    opening = {"role": "user", "content": "I need help with my booking ABC123 please."}

    def chat(follow_up: str) -> dict:
        return {"messages": [system, opening, {"role": "assistant", "content": "Sure."},
                             {"role": "user", "content": follow_up}]}

    per_turn = replace(policy, extraction=ExtractionPolicy.PER_USER_TURN)
    sanitizer = Sanitizer(per_turn, open_dedup_store(tmp_path / "dedup.sqlite"))
    first, second = sanitizer.process_batch([
        trace(chat("Move it to Friday, please.")),
        trace(chat("Cancel it and refund me, please."), line=2),
    ])
    assert len(first.prompts) == 2
    assert len(second.prompts) == 1 and second.dropped == {"duplicate": 1}
    report = ReportBuilder("test")
    report.add(first)
    report.add(second)
    summary = report.report()
    assert (summary.valid, summary.prompts, summary.dropped_prompts) == (2, 3, {"duplicate": 1})


def test_a_rerun_by_another_spelling_of_the_path_owns_its_prompts(tmp_path: Path, monkeypatch):
    from rft_sanitizer import SanitizerSettings, sanitize_files

    data = Path(__file__).resolve().parents[2] / "examples" / "data" / "toy_chat_fine_tuning.jsonl"
    settings = SanitizerSettings(dataset="toy", data_dir=tmp_path / "state")
    first = sanitize_files([data], tmp_path / "a", settings)
    monkeypatch.chdir(data.parent)
    again = sanitize_files([Path(data.name)], tmp_path / "b", settings)  # relative this time
    assert first.valid > 0 and again.valid == first.valid
    assert again.rejected.get("duplicate", 0) == first.rejected.get("duplicate", 0)


def test_a_dedup_store_outage_is_retried_not_dead_lettered(tmp_path: Path, trace, policy):
    """The Kafka stage turns a store that is down into a retry of the batch."""
    import asyncio
    import signal

    from rft_runtime.kafka.stage import Inbound, TransientError
    from rft_runtime.postgres_local import LocalPostgres
    from rft_runtime.processes import stop_process
    from rft_runtime.settings import RuntimeSettings
    from rft_sanitizer.outcome_store import OutcomeStore
    from rft_sanitizer.stage import build_stage

    record = trace({"messages": [
        {"role": "system", "content": "You are a support agent for an airline with tools."},
        {"role": "user", "content": "Please check booking ABC123 for me."}]})
    batch = [Inbound(record, record.id, "rft.traces.raw.v1", 0, 7)]
    with LocalPostgres(log_path=tmp_path / "pg.log") as server:
        sanitizer = Sanitizer(policy, open_dedup_store(server.create_database("dedup")))
        stage = build_stage(RuntimeSettings(), sanitizer, OutcomeStore(tmp_path / "o.sqlite"))
        stop_process(server.process, 10.0, first_signal=signal.SIGINT)
        with pytest.raises(TransientError, match="store"):
            asyncio.run(stage.handler(batch))
        server.restart()
        outputs = asyncio.run(stage.handler(batch))
    assert [o.topic for o in outputs] == ["rft.prompts.sanitized.v1"]


def test_claims_of_a_batch_larger_than_one_read_and_of_two_datasets(sql_store_url: str):
    store = open_dedup_store(sql_store_url)
    store.claim_many([ClaimRequest("b", f"p{i}", "old", "old.jsonl:1") for i in range(0, 1300, 3)])
    requests = [
        ClaimRequest(dataset, f"p{i}", f"t{i}", f"new.jsonl:{i}")
        for i in range(1300)
        for dataset in ("a", "b")
    ]
    claims = store.claim_many(requests)
    assert [c.prompt_id for c in claims] == [r.prompt_id for r in requests]
    for r, claim in zip(requests, claims, strict=True):
        kept_before = r.dataset == "b" and int(r.prompt_id[1:]) % 3 == 0
        assert claim.owner_trace == ("old" if kept_before else r.trace_id)
    assert store.kept("a") == 1300 and store.kept("b") == 1300


def test_one_record_asking_the_same_thing_twice_keeps_it_once(tmp_path: Path, trace, policy):
    """An OTLP export request carries several traces; two of them can hold the same prompt."""
    def chat(trace_id: str, text: str) -> dict:
        messages = [{"role": "user", "parts": [{"type": "text", "content": text}]}]
        value = {"stringValue": orjson.dumps(messages).decode()}
        return {"traceId": trace_id, "spanId": trace_id[:16], "name": "chat",
                "attributes": [{"key": "gen_ai.input.messages", "value": value}]}

    record = trace({"resourceSpans": [{"scopeSpans": [{"spans": [
        chat("a" * 32, "Book a table for two at eight"),
        chat("b" * 32, "Book a table for two at eight"),
        chat("c" * 32, "Move my flight to Friday, please"),
    ]}]}]})
    (outcome,) = Sanitizer(policy, open_dedup_store(tmp_path / "dedup.sqlite")).process_batch(
        [record])
    assert sorted(p.messages[-1].content for p in outcome.prompts) == [
        "Book a table for two at eight", "Move my flight to Friday, please"]
    assert outcome.dropped == {"duplicate": 1}
