"""The reader against what an audit found: deep nesting inside a JSON document, a compact
container over the line cap, container keys that hold turns rather than records, and a UTF-8
byte-order mark. Every record still ends as one trace or one rejection with its location."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from rft_sanitizer.api import _save_upload
from rft_sanitizer.core import Accepted, Policy, sanitize
from rft_sanitizer.reader import read_traces
from rft_schemas.traces import RawTrace, Rejection

SYSTEM = {"role": "system", "content": "You are a support agent for an airline with tools."}
BOM = b"\xef\xbb\xbf"
CAP = 1 << 20


def record(n: int) -> dict[str, object]:
    return {"messages": [SYSTEM, {"role": "user", "content": f"Please check booking #{n}."}]}


def good(n: int) -> bytes:
    return orjson.dumps(record(n))


def kinds(out: list[RawTrace | Rejection]) -> list[str]:
    return ["trace" if isinstance(o, RawTrace) else o.reason.value for o in out]


# --- 1. deep nesting inside a JSON array or object file --------------------------------------

# Runs in a child process under an address-space limit: the unbounded reader needs gigabytes
# for this input, and must fail there rather than take the test machine's memory.
_DEEP_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from rft_sanitizer.reader import read_traces

    path = Path(sys.argv[1])
    vm = next(int(line.split()[1]) for line in open("/proc/self/status")
              if line.startswith("VmSize:"))
    limit = vm * 1024 + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        out = [(type(o).__name__, getattr(o, "reason", None), o.source.line,
                getattr(o, "path", None), getattr(o, "detail", None))
               for o in read_traces(path, "d", 1 << 20)]
    except MemoryError:
        out = "MemoryError"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"out": out, "peak_kib": peak}))
    """
)


def _read_in_child(path: Path) -> tuple[list[list[object]], int]:
    done = subprocess.run(
        [sys.executable, "-c", _DEEP_CHILD, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["out"] != "MemoryError", f"MemoryError, {result['peak_kib'] / 1024:.0f} MiB"
    return result["out"], result["peak_kib"]


def test_200k_deep_item_of_a_json_array_is_rejected_in_small_memory(tmp_path):
    depth = 200_000
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" + good(1) + b", " + b"[" * depth + b"]" * depth + b", " + good(2) + b"]")
    out, peak_kib = _read_in_child(path)
    assert [(o[0], o[1], o[2]) for o in out] == [
        ("RawTrace", None, 0), ("Rejection", "too_deeply_nested", 1), ("RawTrace", None, 2)
    ]
    assert out[1][3]  # where in the record the limit was crossed
    assert peak_kib < 50 * 1024, f"peak RSS grew {peak_kib / 1024:.0f} MiB"


def test_200k_deep_record_in_an_object_container_is_rejected_in_small_memory(tmp_path):
    depth = 200_000
    deep = b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"
    path = tmp_path / "deep_run.json"
    path.write_bytes(
        b'{"info": ' + b"[" * depth + b"]" * depth
        + b', "simulations": [' + good(1) + b", " + deep + b", " + good(2) + b"]}"
    )
    out, peak_kib = _read_in_child(path)
    assert [(o[0], o[1], o[2]) for o in out] == [
        ("RawTrace", None, 0), ("Rejection", "too_deeply_nested", 1), ("RawTrace", None, 2)
    ]
    assert str(out[1][3]).startswith("messages")
    assert peak_kib < 50 * 1024, f"peak RSS grew {peak_kib / 1024:.0f} MiB"


def test_deep_nesting_at_the_array_level_itself_is_one_record(tmp_path):
    """[[[[...]]]] 200,000 deep: the array's item 0 is too deep; nothing else is lost."""
    depth = 200_000
    path = tmp_path / "brackets.json"
    path.write_bytes(b"[" * depth + b"]" * depth)
    out, peak_kib = _read_in_child(path)
    assert [(o[0], o[1], o[2]) for o in out] == [("Rejection", "too_deeply_nested", 0)]
    assert peak_kib < 50 * 1024, f"peak RSS grew {peak_kib / 1024:.0f} MiB"


# --- 2. a compact JSON object over the line cap --------------------------------------------


def test_compact_container_over_the_cap_is_streamed_record_by_record(tmp_path):
    items = [good(n) for n in range(30_000)]
    big = orjson.dumps({"messages": [{"role": "user", "content": "x" * (CAP + 10)}]})
    items[7] = big
    path = tmp_path / "compact.json"
    path.write_bytes(b'{"conversations": [' + b",".join(items) + b"]}")
    assert path.stat().st_size > 3 * CAP
    out = list(read_traces(path, "d", CAP))
    assert len(out) == 30_000
    assert kinds(out).count("trace") == 29_999 and kinds(out)[7] == "too_large"
    assert [o.source.line for o in out[:9]] == list(range(9))
    assert json.loads(out[8].payload) == record(8)


def test_compact_tau2_export_over_the_cap_is_streamed(tmp_path):
    sims = [{"id": f"s{n}", "task_id": str(n), "termination_reason": "user_stop", **record(n)}
            for n in range(2_000)]
    path = tmp_path / "tau2.json"
    path.write_bytes(orjson.dumps({"info": {"data": [1]}, "simulations": sims}))
    cap = 64 * 1024
    assert path.stat().st_size > 4 * cap
    out = list(read_traces(path, "d", cap))
    assert kinds(out) == ["trace"] * 2_000
    assert json.loads(out[-1].payload)["id"] == "s1999"


def test_jsonl_with_a_huge_first_line_still_reads_the_other_lines(tmp_path):
    path = tmp_path / "huge_first.json"
    huge = orjson.dumps({"messages": [{"role": "user", "content": "x" * (CAP + 10)}]})
    path.write_bytes(huge + b"\n" + good(1) + b"\n" + good(2) + b"\n")
    out = list(read_traces(path, "d", CAP))
    assert kinds(out) == ["too_large", "trace", "trace"]
    assert [o.source.line for o in out] == [1, 2, 3]


# --- 3. container keys that hold turns, not records ----------------------------------------


def test_pretty_sharegpt_conversation_is_one_record(tmp_path, policy: Policy):
    dialogue = {
        "conversations": [
            {"from": "human", "value": "Which flights leave Boston for Denver tomorrow?"},
            {"from": "gpt", "value": "Let me look that up for you."},
        ],
        "system": "You are a travel agent.",
    }
    path = tmp_path / "sharegpt_one.json"
    path.write_text(json.dumps(dialogue, indent=2))
    (only,) = read_traces(path, "d", CAP)
    assert isinstance(only, RawTrace) and json.loads(only.payload) == dialogue
    assert isinstance(sanitize(only, policy), Accepted)


def test_openai_record_with_a_data_list_is_one_record(tmp_path):
    single = {**record(1), "data": [1, 2]}
    for name, text in (("compact.json", json.dumps(single)),
                       ("pretty.json", json.dumps(single, indent=2))):
        path = tmp_path / name
        path.write_text(text)
        (only,) = read_traces(path, "d", CAP)
        assert isinstance(only, RawTrace) and json.loads(only.payload) == single


def test_container_of_sharegpt_records_is_still_streamed(tmp_path):
    dialogue = {"conversations": [{"from": "human", "value": "hi there, book me a seat"}]}
    path = tmp_path / "sharegpt_many.json"
    path.write_text(json.dumps({"conversations": [dialogue, dialogue, dialogue]}, indent=2))
    out = list(read_traces(path, "d", CAP))
    assert kinds(out) == ["trace"] * 3 and [o.source.line for o in out] == [0, 1, 2]


def test_container_whose_first_item_is_broken_is_still_streamed(tmp_path):
    path = tmp_path / "first_broken.json"
    path.write_text(json.dumps({"simulations": [{"id": 1}, record(1), record(2)]}, indent=2))
    out = list(read_traces(path, "d", CAP))
    assert kinds(out) == ["trace"] * 3  # the first one is not_a_conversation in the core


# --- 4. a UTF-8 byte-order mark ------------------------------------------------------------


def test_pretty_array_with_a_bom_is_read(tmp_path):
    path = tmp_path / "bom_array.json"
    path.write_bytes(BOM + json.dumps([record(n) for n in range(3)], indent=2).encode())
    out = list(read_traces(path, "d", CAP))
    assert kinds(out) == ["trace"] * 3 and json.loads(out[2].payload) == record(2)


def test_jsonl_first_line_with_a_bom_is_a_record(tmp_path, policy: Policy):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(BOM + good(1) + b"\n" + good(2) + b"\n")
    out = list(read_traces(path, "d", CAP))
    assert kinds(out) == ["trace", "trace"] and [o.source.line for o in out] == [1, 2]
    assert all(isinstance(sanitize(o, policy), Accepted) for o in out if isinstance(o, RawTrace))


def test_object_files_with_a_bom_are_read(tmp_path):
    container = tmp_path / "bom_run.json"
    container.write_bytes(BOM + orjson.dumps({"simulations": [record(1), record(2)]}))
    assert kinds(list(read_traces(container, "d", CAP))) == ["trace", "trace"]
    single = tmp_path / "bom_one.json"
    single.write_bytes(BOM + json.dumps(record(1), indent=2).encode())
    (only,) = read_traces(single, "d", CAP)
    assert isinstance(only, RawTrace) and json.loads(only.payload) == record(1)


# --- what the bounded reader must keep doing -----------------------------------------------


def test_content_after_a_top_level_array_is_one_rejection(tmp_path):
    path = tmp_path / "two_arrays.json"
    path.write_bytes(b"[" + good(1) + b"]\n[" + good(2) + b"]\n")
    out = list(read_traces(path, "d", CAP))
    assert kinds(out) == ["trace", "invalid_json"] and out[1].source.line == 1
    assert "trailing garbage" in out[1].detail and "byte" in out[1].detail


def test_an_export_with_no_records_yields_nothing(tmp_path):
    path = tmp_path / "empty_run.json"
    path.write_text(json.dumps({"info": {"n": 0}, "simulations": []}, indent=2))
    assert list(read_traces(path, "d", CAP)) == []


def test_an_http_upload_is_read_as_a_file_of_the_same_bytes_would_be(tmp_path):
    """A pretty container object with a byte-order mark, posted as the request body."""
    body = "\ufeff".encode() + json.dumps(
        {"info": {"domain": "airline"}, "simulations": [record(1), record(2)]}, indent=2
    ).encode()
    saved = _save_upload(tmp_path, body)
    assert saved.suffix == ".json"
    out = list(read_traces(saved, "d", 1024 * 1024))
    assert kinds(out) == ["trace", "trace"]
    lines = b"\n".join(good(n) for n in range(3))
    assert kinds(list(read_traces(_save_upload(tmp_path, lines), "d", 1024 * 1024))) == [
        "trace"] * 3


def test_one_relative_path_read_from_two_directories_names_two_files(tmp_path, monkeypatch):
    """Trace ids know a file by its resolved path, resolved when it is read: the same
    relative spelling read after a chdir is another file, with other ids."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "t.jsonl").write_bytes(good(1) + b"\n")
    monkeypatch.chdir(tmp_path / "a")
    (in_a,) = read_traces(Path("t.jsonl"), "d", 1024)
    monkeypatch.chdir(tmp_path / "b")
    (in_b,) = read_traces(Path("t.jsonl"), "d", 1024)
    assert in_a.source.uri == in_b.source.uri == "t.jsonl"
    assert in_a.id != in_b.id
    (absolute,) = read_traces(tmp_path / "b" / "t.jsonl", "d", 1024)
    assert absolute.id == in_b.id
