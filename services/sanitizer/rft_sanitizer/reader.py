"""Streaming reader: files of JSON Lines, a JSON array, or a JSON object holding conversations,
read in constant memory, one :class:`RawTrace` per record (or a Rejection for a record that
cannot even be held: a line or item over the size cap, one nested too deeply, a truncated array).

- A leading UTF-8 byte-order mark is skipped (editors on Windows write one).
- JSON Lines (whatever the suffix: the BFCL ``.json`` files are JSON Lines) are read line by
  line with a cap; a longer line is skipped in chunks, never held whole.
- A JSON array is streamed item by item (:mod:`rft_sanitizer.json_stream`), each item capped
  on its own and bounded in depth; an item past a bound is skipped, and the rest still read.
- A JSON object is one record, unless a top-level key holds an array of records (tau2's
  ``simulations``): then that array is streamed, however large the file or its one line.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Literal, NamedTuple

import orjson

from rft_sanitizer import json_stream
from rft_sanitizer.json_stream import CONTAINER_KEYS, MAX_NESTING, Broken, TooDeep, TooLarge
from rft_sanitizer.normalize import trace_id
from rft_sanitizer.trusted import trusted
from rft_schemas.traces import RawTrace, Rejection, RejectionReason, SourceLocation

__all__ = ["CONTAINER_KEYS", "MAX_NESTING", "read_traces"]

_CHUNK = 1 << 20


class _File(NamedTuple):
    """A trace file as records name it (``uri``, as the user spelled it) and as trace ids know
    it (``identity``, resolved): `data/x.jsonl` and `/abs/data/x.jsonl` are one file, so a
    re-run by another spelling of the path owns its prompts again."""

    uri: str
    identity: str

_BOM = b"\xef\xbb\xbf"


def read_traces(
    path: Path, dataset: str, max_record_bytes: int, excerpt_chars: int = 300
) -> Iterator[RawTrace | Rejection]:
    # resolved once here: trace ids must not change with a later chdir of the process
    file = _File(uri=str(path), identity=str(path.resolve()))
    with path.open("rb") as stream:
        if stream.read(len(_BOM)) != _BOM:  # a BOM is no part of the first record
            stream.seek(0)
        origin = stream.tell()
        start = stream.read(4096).lstrip()[:1]
        stream.seek(origin)
        if path.suffix.lower() in (".jsonl", ".ndjson") or start not in (b"[", b"{"):
            yield from _lines(stream, file, dataset, max_record_bytes, excerpt_chars)
        elif start == b"[":
            yield from _items(stream, file, dataset, None, max_record_bytes, excerpt_chars)
        else:
            shape, key = _object_shape(stream, max_record_bytes)
            stream.seek(origin)
            if shape == "container":
                yield from _items(stream, file, dataset, key, max_record_bytes, excerpt_chars)
            elif shape == "single":
                yield _whole(stream, file, dataset, max_record_bytes, excerpt_chars)
            else:  # JSON Lines, or not one JSON document: let each line get its own verdict
                yield from _lines(stream, file, dataset, max_record_bytes, excerpt_chars)


def _whole(
    stream: IO[bytes], file: _File, dataset: str, cap: int, excerpt_chars: int
) -> RawTrace | Rejection:
    """A file that is one JSON object (pretty-printed or not) is one record, at line 1."""
    payload = stream.read(cap + 1)
    if len(payload) > cap:
        return _refusal(file, dataset, 1, RejectionReason.TOO_LARGE,
                        f"a single record over the {cap:,}-byte cap", payload[:excerpt_chars])
    return _trace(file, dataset, 1, payload.strip())


def payload_text(payload: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    """A record's bytes as RawTrace carries them: text, or base64 when they are not UTF-8
    (the core then names the bad byte; the payload travels intact)."""
    try:
        return payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), "base64"


def _trace(file: _File, dataset: str, position: int, payload: bytes) -> RawTrace:
    # built from values this module made: no validation needed on the hot path
    source = trusted(SourceLocation, uri=file.uri, line=position)
    text, encoding = payload_text(payload)
    return trusted(
        RawTrace,
        id=trace_id(dataset, file.identity, position),
        dataset=dataset,
        source=source,
        payload=text,
        payload_encoding=encoding,
    )


def _refusal(
    file: _File,
    dataset: str,
    position: int,
    reason: RejectionReason,
    detail: str,
    excerpt: bytes,
    path: str | None = None,
) -> Rejection:
    tid = trace_id(dataset, file.identity, position)
    return Rejection(
        id=tid,
        dataset=dataset,
        reason=reason,
        detail=detail,
        source=SourceLocation(uri=file.uri, line=position),
        path=path,
        excerpt=excerpt.decode("utf-8", errors="backslashreplace"),
        trace_id=tid,
    )


def _lines(
    stream: IO[bytes], file: _File, dataset: str, cap: int, excerpt_chars: int
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
            yield _refusal(file, dataset, number, RejectionReason.TOO_LARGE,
                           f"line of {size:,} bytes, over the {cap:,}-byte cap", head)
            continue
        stripped = line.strip()
        if not stripped:
            continue
        yield _trace(file, dataset, number, stripped)


def _object_shape(
    stream: IO[bytes], cap: int
) -> tuple[Literal["container", "single", "lines"], str | None]:
    """How to read the object file at the stream's position: ("container", key) when a
    top-level key holds an array of records, ("single", None) for one record, ("lines", None)
    for JSON Lines or for what is not one JSON document."""
    origin = stream.tell()
    first = stream.readline(cap + 1)
    over = len(first) > cap
    if not over and _is_json(first) and stream.read(4096).strip():
        return "lines", None  # a whole JSON value on the first line, and more after it
    # One JSON document (pretty, or compact on one line however long: a first line over the
    # cap may still hold records, each under it): its start tells, read up to a decision and
    # never past a token over the cap (a huge JSON Lines record ends there as lines).
    stream.seek(origin)
    shape, key = json_stream.classify_object(stream, cap)
    if shape == "container":
        return "container", key
    if shape == "single" or (shape == "undecided" and not over):
        return "single", None  # a document over the cap: _whole refuses it as too_large
    return "lines", None


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _items(
    stream: IO[bytes],
    file: _File,
    dataset: str,
    key: str | None,
    cap: int,
    excerpt_chars: int,
) -> Iterator[RawTrace | Rejection]:
    """The items of the top-level array, or of the array under top-level ``key``, at their
    index; an item past a bound is refused alone, a break in the document ends the file."""
    index = -1
    for item in json_stream.items(stream, key, cap, excerpt_chars):
        if isinstance(item, Broken):
            # The stream cannot be resynchronized after a syntax error: the rest is one rejection.
            where = (f"at byte {item.end:,} (the end of the file)" if item.start == item.end
                     else f"between bytes {item.start:,} and {item.end:,} of the file")
            detail = f"the JSON array breaks after item {index}, {where}: {item.error}"
            yield _refusal(file, dataset, index + 1, RejectionReason.INVALID_JSON, detail[:500],
                           b"")
            return
        index += 1
        if isinstance(item, TooDeep):
            yield _refusal(file, dataset, index, RejectionReason.TOO_DEEPLY_NESTED,
                           f"item {index} nests deeper than {MAX_NESTING} levels at {item.path}",
                           b"", path=item.path)
            continue
        if isinstance(item, TooLarge):
            yield _refusal(file, dataset, index, RejectionReason.TOO_LARGE,
                           f"item of more than {item.size:,} bytes, over the {cap:,}-byte cap",
                           item.head)
            continue
        try:
            payload = orjson.dumps(item)
        except (orjson.JSONEncodeError, TypeError, RecursionError) as exc:
            reason = (RejectionReason.TOO_DEEPLY_NESTED if "recursion" in str(exc).lower()
                      else RejectionReason.INVALID_RECORD)
            yield _refusal(file, dataset, index, reason, f"item {index}: {exc}"[:500], b"")
            continue
        if len(payload) > cap:
            yield _refusal(file, dataset, index, RejectionReason.TOO_LARGE,
                           f"item of {len(payload):,} bytes, over the {cap:,}-byte cap",
                           payload[:excerpt_chars])
            continue
        yield _trace(file, dataset, index, payload)
