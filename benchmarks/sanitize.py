"""Step A throughput and memory: records/s of the sanitizer on one core over real records,
next to parse-only throughput of the same file with orjson (the floor no validator can beat),
and peak RSS at 20,000 and at 1,000,000 records.

    python benchmarks/sanitize.py                      # 20,000 records + 1,000,000 for memory
    python benchmarks/sanitize.py --million 0          # skip the 1,000,000-record run
    python benchmarks/sanitize.py --quick              # 4,000 records, no memory run

Two figures put the target in context: the rate of parse + sorted-key dump + sha256 per record
(the least a deduplicating sanitizer does, with no Python logic between the compiled calls), and
the seconds spent inside the tokenizer on the exact counts, against the time the whole run may
take at the target (twice the parse-only time).

Rates are given per wall-clock second and per CPU second of the measuring process: on a
shared machine the wall clock also counts the time other processes held the core, so the
CPU-second figures are the steadier ones to compare runs by.

The input is built from examples/data (every trace file): records are repeated with the first
user turn varied per copy, so copies are distinct prompts, not duplicates. Each measurement runs
in its own process (so peak RSS is that run's alone), pinned to one CPU core where the OS allows.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"
SOURCES = [
    DATA / "toy_chat_fine_tuning.jsonl",
    DATA / "drone_training.jsonl",
    DATA / "tau2_airline" / "whissle_airline_run1.json",
    DATA / "toolace_sharegpt_100.json",
    *sorted((DATA / "bfcl").glob("*.json")),
]


def real_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in SOURCES:
        text = path.read_text()
        if path.name.endswith("run1.json"):
            records += json.loads(text)["simulations"]
        elif text.lstrip().startswith("["):
            records += json.loads(text)
        else:
            records += [json.loads(line) for line in text.splitlines() if line.strip()]
    return records


def _vary(record: dict[str, Any], copy: int) -> dict[str, Any]:
    """The record with its first user turn made unique to this copy."""
    tag = f" (ref {copy})"
    out = dict(record)
    if "conversations" in out:
        turns = [dict(t) for t in out["conversations"]]
        for turn in turns:
            if turn.get("from") == "human":
                turn["value"] = str(turn.get("value")) + tag
                break
        out["conversations"] = turns
    elif "question" in out:
        question = [[dict(m) for m in turn] for turn in out["question"]]
        for message in itertools.chain.from_iterable(question):
            if message.get("role") == "user":
                message["content"] = str(message.get("content")) + tag
                break
        out["question"] = question
    elif "messages" in out:
        messages = [dict(m) for m in out["messages"]]
        for message in messages:
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                message["content"] += tag
                break
        out["messages"] = messages
    return out


def build_input(path: Path, count: int) -> int:
    """Write ``count`` JSONL records cycling through the real ones; return the file's bytes."""
    base = real_records()
    with path.open("wb") as out:
        for i in range(count):
            out.write(orjson.dumps(_vary(base[i % len(base)], i // len(base))) + b"\n")
    return path.stat().st_size


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        yield from stream


def child_parse(path: Path) -> dict[str, Any]:
    pin = pin_one_core()
    start, cpu_start = time.perf_counter(), time.process_time()
    count = 0
    for line in _lines(path):
        orjson.loads(line)
        count += 1
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"records": count, "seconds": seconds, "cpu_seconds": cpu, "pin": pin,
            "rss_mb": peak_rss_mb()}


def child_floor(path: Path) -> dict[str, Any]:
    """Parse, re-serialize with sorted keys, hash: the least a deduplicating sanitizer does to
    a record (a canonical form to hash, JSON to write), with no Python logic between the calls."""
    pin = pin_one_core()
    start, cpu_start = time.perf_counter(), time.process_time()
    count = 0
    for line in _lines(path):
        hashlib.sha256(orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS)).digest()
        count += 1
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"records": count, "seconds": seconds, "cpu_seconds": cpu, "pin": pin,
            "rss_mb": peak_rss_mb()}


class TimedTokenizer:
    """Stands in for the counter's tokenizer and adds up the seconds spent inside it, so the
    run can say how much of its time the exact counts alone take."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.seconds = 0.0

    def encode_batch_fast(self, texts: list[str], **options: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.tokenizer.encode_batch_fast(texts, **options)
        finally:
            self.seconds += time.perf_counter() - start


def child_sanitize(path: Path, work: Path) -> dict[str, Any]:
    from rft_sanitizer.batch import sanitize_files
    from rft_sanitizer.settings import SanitizerSettings
    from rft_sanitizer.tokens import load_token_counter

    pin = pin_one_core()
    settings = SanitizerSettings(data_dir=work / "data")
    counter = load_token_counter(settings.tokenizer, REPO / ".rft" / "tokenizers")
    timed = TimedTokenizer(counter.tokenizer)
    counter.tokenizer = timed  # type: ignore[assignment]
    start, cpu_start = time.perf_counter(), time.process_time()
    report = sanitize_files([path], work / "out", settings, counter=counter)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "records": report.input,
        "valid": report.valid,
        "rejected": report.rejected,
        "tokens_counted": report.tokens.counted,
        "tokens_estimated": report.tokens.estimated,
        "tokenizer_seconds": timed.seconds,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "pin": pin,
        "rss_mb": peak_rss_mb(),
    }


def run_child(mode: str, path: Path, work: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--input", str(path), "--work", str(work)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--million", type=int, default=1_000_000, help="0 skips the memory run")
    parser.add_argument("--quick", action="store_true",
                        help="a quick look: 4,000 records, no memory run")
    parser.add_argument("--child", choices=["parse", "floor", "sanitize"])
    parser.add_argument("--input", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.records, args.million = 4_000, 0
    if args.child:
        if args.child == "parse":
            result = child_parse(args.input)
        elif args.child == "floor":
            result = child_floor(args.input)
        else:
            result = child_sanitize(args.input, args.work)
        print(json.dumps(result))
        return

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          f"(shared machines make figures noisy)")
    with tempfile.TemporaryDirectory(prefix="rft-bench-") as tmp:
        root = Path(tmp)
        small = root / "traces_20k.jsonl"
        size = build_input(small, args.records)
        print(f"input: {args.records:,} real records, {size / 1e6:.1f} MB")
        parse = run_child("parse", small, root / "p")
        floor = run_child("floor", small, root / "f")
        sanitize = run_child("sanitize", small, root / "s")
        parse_rate = parse["records"] / parse["seconds"]
        sanitize_rate = sanitize["records"] / sanitize["seconds"]
        parse_cpu_rate = parse["records"] / parse["cpu_seconds"]
        sanitize_cpu_rate = sanitize["records"] / sanitize["cpu_seconds"]
        print(f"parse only (orjson.loads per line): {parse_rate:,.0f} records/s "
              f"({parse_cpu_rate:,.0f} per CPU second) [{parse['pin']}]")
        floor_rate = floor["records"] / floor["seconds"]
        print(f"parse + sorted-key dump + sha256 (no Python logic): {floor_rate:,.0f} records/s, "
              f"ratio {floor_rate / parse_rate:.3f} [{floor['pin']}]")
        print(f"sanitize (read, check, redact, tokens, dedup, write): {sanitize_rate:,.0f} "
              f"records/s ({sanitize_cpu_rate:,.0f} per CPU second) [{sanitize['pin']}]")
        print(f"  valid {sanitize['valid']:,}, rejected {sanitize['rejected']}, tokens counted "
              f"exactly for {sanitize['tokens_counted']:,} prompts, bounded by size for "
              f"{sanitize['tokens_estimated']:,}")
        # At the target the whole run may take twice the parse-only time; the exact counts
        # the issue asks for (where they decide) are spent inside the tokenizer alone.
        budget = 2 * parse["seconds"]
        print(f"  of which inside the tokenizer (exact counts where they decide): "
              f"{sanitize['tokenizer_seconds']:.3f} s, {sanitize['tokenizer_seconds'] / budget:.2f}"
              f" of the {budget:.3f} s the whole run may take at the 0.5 target")
        print(f"ratio sanitize / parse-only: {sanitize_rate / parse_rate:.3f} "
              f"(per CPU second {sanitize_cpu_rate / parse_cpu_rate:.3f}; target >= 0.5)")
        print(f"peak RSS at {args.records:,} records: {sanitize['rss_mb']:.0f} MB")
        if args.million:
            big = root / "traces_1m.jsonl"
            size = build_input(big, args.million)
            small.unlink()
            print(f"input: {args.million:,} records, {size / 1e9:.2f} GB")
            million = run_child("sanitize", big, root / "m")
            rate = million["records"] / million["seconds"]
            print(f"peak RSS at {args.million:,} records: {million['rss_mb']:.0f} MB "
                  f"({rate:,.0f} records/s, {million['seconds']:.0f} s)")
            print(f"memory ratio 1,000,000 / {args.records:,}: "
                  f"{million['rss_mb'] / sanitize['rss_mb']:.2f} (target: flat, ~1.0)")


if __name__ == "__main__":
    main()
