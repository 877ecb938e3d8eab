"""Streaming reader: files of JSON Lines, a JSON array, or a JSON object holding conversations,
read in constant memory, one :class:`RawTrace` per record (or a Rejection for a record that
cannot even be held: a line over the size cap, a truncated array).

- JSON Lines (whatever the suffix: the BFCL ``.json`` files are JSON Lines) are read line by
  line with a cap; a longer line is skipped in chunks, never held whole.
- A JSON array is streamed item by item with ijson's C backend.
- A JSON object is one record, unless a top-level key holds the records (tau2's
  ``simulations``): then that array is streamed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from rft_sanitizer.normalize import trace_id
from rft_sanitizer.trusted import trusted
from rft_schemas.traces import RawTrace, Rejection, RejectionReason, SourceLocation

# Top-level keys under which exports hold their records.
CONTAINER_KEYS = ("simulations", "conversations", "data", "records", "items", "traces",
                  "examples", "dialogues", "samples", "rows")
_CHUNK = 1 << 20


def read_traces(
    path: Path, dataset: str, max_record_bytes: int, excerpt_chars: int = 300
) -> Iterator[RawTrace | Rejection]:
    uri = str(path)
    with path.open("rb") as stream:
        start = stream.read(4096).lstrip()[:1]
        stream.seek(0)
        if path.suffix.lower() in (".jsonl", ".ndjson") or start not in (b"[", b"{"):
            yield from _lines(stream, uri, dataset, max_record_bytes, excerpt_chars)
        elif start == b"[":
            yield from _array(stream, uri, dataset, "item", max_record_bytes, excerpt_chars)
        elif _is_json_lines(path, max_record_bytes):
            yield from _lines(stream, uri, dataset, max_record_bytes, excerpt_chars)
        else:
            shape, key = _object_shape(path)
            if shape == "container":
                yield from _array(stream, uri, dataset, f"{key}.item", max_record_bytes,
                                  excerpt_chars)
            elif shape == "single":
                yield _whole(stream, uri, dataset, max_record_bytes, excerpt_chars)
            else:  # not one JSON document: let each line get its own verdict
                yield from _lines(stream, uri, dataset, max_record_bytes, excerpt_chars)


def _whole(
    stream: IO[bytes], uri: str, dataset: str, cap: int, excerpt_chars: int
) -> RawTrace | Rejection:
    """A file that is one JSON object (pretty-printed or not) is one record, at line 1."""
    payload = stream.read(cap + 1)
    if len(payload) > cap:
        return _refusal(uri, dataset, 1, RejectionReason.TOO_LARGE,
                        f"a single record over the {cap:,}-byte cap", payload[:excerpt_chars])
    return _trace(uri, dataset, 1, payload.strip())


def _trace(uri: str, dataset: str, position: int, payload: bytes) -> RawTrace:
    # built from values this module made: no validation needed on the hot path
    source = trusted(SourceLocation, uri=uri, line=position)
    try:
        text, encoding = payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # The core names the bad byte; the payload travels intact as base64.
        text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
    return trusted(
        RawTrace,
        id=trace_id(dataset, uri, position),
        dataset=dataset,
        source=source,
        payload=text,
        payload_encoding=encoding,
    )


def _refusal(
    uri: str, dataset: str, position: int, reason: RejectionReason, detail: str, excerpt: bytes
) -> Rejection:
    tid = trace_id(dataset, uri, position)
    return Rejection(
        id=tid,
        dataset=dataset,
        reason=reason,
        detail=detail,
        source=SourceLocation(uri=uri, line=position),
        excerpt=excerpt.decode("utf-8", errors="backslashreplace"),
        trace_id=tid,
    )


def _lines(
    stream: IO[bytes], uri: str, dataset: str, cap: int, excerpt_chars: int
) -> Iterator[RawTrace | Rejection]:
    number = 0
    while True:
        line = stream.readline(cap + 1)
        if not line:
            return
        number += 1
        if len(line) > cap and not line.endswith(b"\n"):
            size = len(line)
            head = line[:excerpt_chars]
            del line
            while True:  # skip the rest of the line without holding it
                chunk = stream.readline(_CHUNK)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield _refusal(uri, dataset, number, RejectionReason.TOO_LARGE,
                           f"line of {size:,} bytes, over the {cap:,}-byte cap", head)
            continue
        stripped = line.strip()
        if not stripped:
            continue
        yield _trace(uri, dataset, number, stripped)


def _is_json_lines(path: Path, cap: int) -> bool:
    """An object file is JSON Lines when its first line is a whole JSON value and more follows."""
    with path.open("rb") as stream:
        first = stream.readline(cap + 1)
        if len(first) > cap:
            return True  # a single huge first line: the line reader refuses it cleanly
        try:
            orjson.loads(first)
        except orjson.JSONDecodeError:
            return False
        rest = stream.read(4096)
    return bool(rest.strip())


def _object_shape(path: Path) -> tuple[str, str | None]:
    """One streaming pass over an object file: ("container", key) when a known top-level key
    holds an array of records, ("single", None) for one whole JSON document, else ("broken", None).
    """
    current = None
    with path.open("rb") as stream:
        try:
            for prefix, event, value in ijson.parse(stream):
                if prefix == "" and event == "map_key":
                    current = value
                elif event == "start_array" and prefix == current and prefix in CONTAINER_KEYS:
                    return "container", str(prefix)
        except (ijson.JSONError, UnicodeDecodeError):
            return "broken", None
    return "single", None


def _array(
    stream: IO[bytes],
    uri: str,
    dataset: str,
    prefix: str,
    cap: int,
    excerpt_chars: int,
) -> Iterator[RawTrace | Rejection]:
    index = -1
    items: Iterator[Any] = ijson.items(stream, prefix, use_float=True)
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            # The stream cannot be resynchronized after a syntax error: the rest is one rejection.
            yield _refusal(uri, dataset, index + 1, RejectionReason.INVALID_JSON,
                           f"the JSON array breaks after item {index}: {exc}"[:500], b"")
            return
        index += 1
        try:
            payload = orjson.dumps(item)
        except (orjson.JSONEncodeError, TypeError, RecursionError) as exc:
            reason = (RejectionReason.TOO_DEEPLY_NESTED if "recursion" in str(exc).lower()
                      else RejectionReason.INVALID_RECORD)
            yield _refusal(uri, dataset, index, reason, f"item {index}: {exc}"[:500], b"")
            continue
        if len(payload) > cap:
            yield _refusal(uri, dataset, index, RejectionReason.TOO_LARGE,
                           f"item of {len(payload):,} bytes, over the {cap:,}-byte cap",
                           payload[:excerpt_chars])
            continue
        yield _trace(uri, dataset, index, payload)
