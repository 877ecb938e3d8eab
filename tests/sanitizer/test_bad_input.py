"""The issue's bad-input list, each through the batch runner: every record gets its reason,
the run goes on, and a huge line is never held in memory."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import orjson
import pytest

from rft_sanitizer.batch import REJECTED_FILE, sanitize_files
from rft_sanitizer.reader import read_traces
from rft_sanitizer.settings import SanitizerSettings
from rft_sanitizer.tokens import TokenCounter
from rft_schemas.traces import RawTrace, Rejection

SYSTEM = {"role": "system", "content": "You are a support agent for an airline with tools."}


def good(n: int) -> bytes:
    record = {"messages": [SYSTEM, {"role": "user", "content": f"Please check booking #{n}."}]}
    return orjson.dumps(record)


BAD_LINES: list[tuple[bytes, str]] = [
    (b'{"messages": [{"role": "user", "content": "caf\xe9 au lait"}]}', "invalid_utf8"),
    (b'{"messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "too_deeply_nested"),
    (b'{"messages": {"role": "user", "content": "hi"}}', "invalid_record"),
    (b'{"messages": [{"role": 5, "content": "hi"}]}', "unknown_role"),
    (b'{"messages": [1, 2, 3]}', "invalid_record"),
    (b'{"messages": [{"role": "user", "content": ["not", "parts"]}]}', "invalid_record"),
    (b'{"question": 5, "function": "x"}', "not_a_conversation"),
    (b'{"messages": [{"role": "user", "content": null}]}', "empty_content"),
    (b'{"messages": [{"role": "user", "content": ""}]}', "empty_content"),
    (b'{"messages": []}', "missing_user_message"),
    (b"\x00\x9f\x92\x96\xff\xfe binary \x01\x02", "invalid_utf8"),
    (b"PK\x03\x04 not json at all", "invalid_json"),
    (b"[1, 2, 3]", "not_a_conversation"),
    (b'"just a string"', "not_a_conversation"),
    (b'{"messages": [{"role": "user", "content": "unterminated', "invalid_json"),
]


@pytest.fixture
def small_cap(tmp_path: Path) -> SanitizerSettings:
    return SanitizerSettings(data_dir=tmp_path / "data", max_record_bytes=1 << 20)


def test_each_bad_line_gets_its_reason_and_the_run_goes_on(tmp_path, small_cap, counter):
    lines = []
    for n, (bad, _) in enumerate(BAD_LINES):
        lines += [good(n), bad]
    lines.append(good(999))
    path = tmp_path / "mess.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = sanitize_files([path], tmp_path / "out", small_cap, counter=counter)
    rejected = [json.loads(line) for line in (tmp_path / "out" / REJECTED_FILE).open()]
    assert [(r["source"]["line"], r["reason"]) for r in rejected] == [
        (2 * i + 2, reason) for i, (_, reason) in enumerate(BAD_LINES)
    ]
    assert report.valid == len(BAD_LINES) + 1
    assert report.input == 2 * len(BAD_LINES) + 1
    assert all(r["source"]["uri"] == str(path) for r in rejected)
    utf8 = rejected[0]
    bad_byte = BAD_LINES[0][0].index(b"\xe9")
    assert f"byte {bad_byte} " in utf8["detail"] and "caf" in utf8["excerpt"]


def test_a_100_mb_line_is_too_large_and_never_held_in_memory(tmp_path, small_cap, counter):
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(good(1) + b"\n")
        out.write(b'{"messages": [{"role": "user", "content": "')
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            out.write(chunk)
        out.write(b'"}]}\n')
        out.write(good(2) + b"\n")
    tracemalloc.start()
    try:
        report = sanitize_files([path], tmp_path / "out", small_cap, counter=counter)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.valid == 2 and report.rejected == {"too_large": 1}
    assert peak < 16 * (1 << 20)  # a 1 MiB cap, a 100 MiB line: held a few MiB at most
    (rejection,) = [json.loads(line) for line in (tmp_path / "out" / REJECTED_FILE).open()]
    assert rejection["source"]["line"] == 2
    assert "104,857,6" in rejection["detail"]


def test_json_array_is_streamed_and_a_truncated_tail_is_one_rejection(tmp_path, small_cap):
    path = tmp_path / "array.json"
    items = b",".join(good(n) for n in range(3))
    path.write_bytes(b"[" + items + b', {"messages": [{"role": "us')
    out = list(read_traces(path, "d", small_cap.max_record_bytes))
    assert [type(o) for o in out] == [RawTrace, RawTrace, RawTrace, Rejection]
    assert [o.source.line for o in out] == [0, 1, 2, 3]
    assert out[-1].reason == "invalid_json"


def test_deep_nesting_inside_a_json_array_is_rejected(tmp_path, small_cap, policy):
    path = tmp_path / "deep.json"
    deep = b"[" * 10_000 + b"]" * 10_000
    path.write_bytes(b"[" + good(1) + b", " + deep + b", " + good(2) + b"]")
    out = list(read_traces(path, "d", small_cap.max_record_bytes))
    assert isinstance(out[0], RawTrace) and isinstance(out[2], RawTrace)
    assert isinstance(out[1], Rejection) and out[1].reason == "too_deeply_nested"


def test_object_file_streams_the_array_that_holds_the_records(tmp_path, small_cap):
    path = tmp_path / "run.json"
    records = ",".join(good(n).decode() for n in range(4))
    path.write_text('{"info": {"data": [1]}, "simulations": [' + records + '], "tail": 1}')
    out = list(read_traces(path, "d", small_cap.max_record_bytes))
    assert len(out) == 4 and all(isinstance(o, RawTrace) for o in out)


def test_pretty_printed_single_conversation_is_one_record(tmp_path, small_cap):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(json.loads(good(1)), indent=2))
    (only,) = read_traces(path, "d", small_cap.max_record_bytes)
    assert isinstance(only, RawTrace) and json.loads(only.payload) == json.loads(good(1))


def test_jsonl_with_a_broken_first_line_is_still_read_line_by_line(tmp_path, small_cap):
    path = tmp_path / "broken_first.json"
    path.write_bytes(b'{"messages": [\n' + good(1) + b"\n" + good(2) + b"\n")
    out = list(read_traces(path, "d", small_cap.max_record_bytes))
    assert [o.source.line for o in out] == [1, 2, 3]


def test_trace_ids_are_stable_per_file_position(tmp_path, small_cap):
    path = tmp_path / "ids.jsonl"
    path.write_bytes(good(1) + b"\n" + good(1) + b"\n")
    first = [o.id for o in read_traces(path, "d", small_cap.max_record_bytes)]
    again = [o.id for o in read_traces(path, "d", small_cap.max_record_bytes)]
    assert first == again and first[0] != first[1]


def test_report_counts_bad_lines_in_the_screen(tmp_path, small_cap, counter: TokenCounter):
    path = tmp_path / "few.jsonl"
    path.write_bytes(good(1) + b"\n" + BAD_LINES[0][0] + b"\n")
    report = sanitize_files([path], tmp_path / "out", small_cap, counter=counter)
    assert report.rejected == {"invalid_utf8": 1} and report.valid == 1
