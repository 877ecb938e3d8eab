"""Bounded streaming over one JSON document, for the reader.

ijson's ``items``/``parse`` keep a prefix string per open level ("item.item.item..."), so memory
grows with the square of the nesting depth: 20 KB of ``[`` took ~1 GB. Here only
``basic_parse`` events are used (yajl keeps a byte per level) and values are built in Python
with a depth and a size bound: a record past either is dropped while the parser skips to its
end, so the records after it are still read, in constant memory.

- :func:`items` yields the records of a top-level array, or of the arrays under one top-level
  key of an object, each as a Python value or as a :class:`TooDeep` / :class:`TooLarge`
  marker, and ends with a :class:`Broken` marker when the document breaks.
- :func:`classify_object` decides, from the start of an object document, whether a container
  key holds records (by the adapters' own :func:`detect_format`) or the object is one record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import ijson
import orjson

from rft_sanitizer.adapters import detect_format
from rft_schemas.traces import TraceFormat

# orjson.loads' depth limit: the one a JSON Lines record meets in the core. (orjson.dumps stops
# at 254 levels; the reader refuses an item between the two as too_deeply_nested too.)
MAX_NESTING = 1024

# Top-level keys under which exports hold their records.
CONTAINER_KEYS = frozenset({"simulations", "conversations", "data", "records", "items", "traces",
                            "examples", "dialogues", "samples", "rows"})

Event = tuple[str, Any]
Shape = Literal["container", "single", "broken", "undecided"]

_SAMPLE = 8  # items of a container key looked at before deciding it holds no records
_SKELETON_DEPTH = 3  # levels of a record the format detection reads (record, list, turn)
_SKELETON_LIST = 2  # elements kept per list of a skeleton
_SKELETON_KEYS = 256  # keys kept per object of a skeleton
_SKELETON_TEXT = 16  # characters kept per string of a skeleton


@dataclass(frozen=True)
class TooDeep:
    path: str  # where in the record the limit was crossed, e.g. messages[0][0][0]


@dataclass(frozen=True)
class TooLarge:
    size: int  # bytes of the record read before it was dropped (a lower bound of its size)
    head: bytes


@dataclass(frozen=True)
class Broken:
    """The document breaks: the parser cannot go on (nothing after this is read)."""

    error: str
    start: int  # the break lies in the bytes [start, end) of the file
    end: int


class _Counted:
    """A binary stream that counts what the parser reads (for offsets). With ``token_cap`` it
    ends early once more than that many bytes pass without a quote: yajl holds a string or
    number token whole, and one that long only belongs to a record over the cap anyway."""

    def __init__(self, stream: IO[bytes], token_cap: int | None = None) -> None:
        self.stream = stream
        self.offset = self.last = stream.tell()
        self.token_cap = token_cap
        self.unquoted = 0  # bytes since the last quote
        self.stopped = False

    def read(self, size: int = -1) -> bytes:
        if self.stopped:
            return b""
        data = self.stream.read(size)
        self.last, self.offset = self.offset, self.offset + len(data)
        if self.token_cap is not None and data:
            quote = data.rfind(b'"')
            self.unquoted = len(data) - quote - 1 if quote >= 0 else self.unquoted + len(data)
            self.stopped = self.unquoted > self.token_cap  # the parser sees an end of file next
        return data


def items(
    stream: IO[bytes], key: str | None, cap: int, head_bytes: int, max_depth: int = MAX_NESTING
) -> Iterator[Any]:
    """The records of the document at the stream's position: the items of the top-level array
    (``key`` None), or of every array under top-level ``key``; everything else is skipped
    unbuilt. Yields values, TooDeep, TooLarge, and a last Broken if the document breaks."""
    reader = _Counted(stream)
    events: Iterator[Event] = ijson.basic_parse(reader, use_float=True)
    current = None
    try:
        for event, value in events:
            if event == "map_key":
                current = value  # only top-level keys arrive here: deeper values are skipped
            elif event == "start_array" and (key is None or current == key):
                yield from _array_items(events, cap, head_bytes, max_depth)
            elif event == "start_map" and key is not None and current is None:
                continue  # the top-level object itself
            elif event == "start_map" or event == "start_array":
                _skip(events, 1)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        yield Broken(_message(exc), reader.last, reader.offset)


def _message(exc: Exception) -> str:
    text = exc.args[0] if exc.args else exc
    if isinstance(text, bytes):  # yajl's lexical errors come as bytes
        text = text.decode("utf-8", errors="backslashreplace")
    return " ".join(str(text).split())[:300]


def _array_items(
    events: Iterator[Event], cap: int, head_bytes: int, max_depth: int
) -> Iterator[Any]:
    for event, value in events:
        if event == "end_array":
            return
        if event == "start_map" or event == "start_array":
            yield _build(event, events, cap, head_bytes, max_depth)
        else:
            yield value  # a scalar item: the core refuses it as not_a_conversation


def _build(first: str, events: Iterator[Event], cap: int, head_bytes: int, max_depth: int) -> Any:
    """One record from its first event on, or a marker once it nests or grows past a bound.

    ``size`` is a lower bound of the record's compact JSON length (commas and non-ASCII bytes
    are not counted), so a record dropped for it is surely over the cap."""
    root: Any = {} if first == "start_map" else []
    stack: list[Any] = [root]
    keys: list[Any] = [None]
    size = 2
    for event, value in events:
        if event == "map_key":
            keys[-1] = value
            size += len(value) + 3
            continue
        top = stack[-1]
        if event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if type(top) is list:
                top.append(child)
            else:
                top[keys[-1]] = child
            stack.append(child)
            keys.append(None)
            size += 2
            if len(stack) > max_depth:
                where = _path(stack, keys)
                _skip(events, len(stack))
                return TooDeep(where)
        elif event == "end_map" or event == "end_array":
            stack.pop()
            keys.pop()
            if not stack:
                return root
            continue
        else:
            if type(top) is list:
                top.append(value)
            else:
                top[keys[-1]] = value
            size += len(value) + 2 if type(value) is str else 1
        if size > cap:
            head = _head(root, head_bytes)
            _skip(events, len(stack))
            return TooLarge(size, head)
    raise ijson.IncompleteJSONError("premature EOF")  # pragma: no cover - yajl raises first


def _skip(events: Iterator[Event], depth: int) -> None:
    """Consume events until ``depth`` open containers have closed, building nothing."""
    for event, _ in events:
        if event == "start_map" or event == "start_array":
            depth += 1
        elif event == "end_map" or event == "end_array":
            depth -= 1
            if not depth:
                return


def _path(stack: list[Any], keys: list[Any], limit: int = 200) -> str:
    out = ""
    for container, key in zip(stack[:-1], keys[:-1], strict=True):
        step = f"[{len(container) - 1}]" if type(container) is list else f".{key}"
        out += step if out or step.startswith("[") else step[1:]
        if len(out) > limit:
            return out[:limit] + "..."
    return out


def _head(value: Any, head_bytes: int) -> bytes:
    try:
        return orjson.dumps(value)[:head_bytes]
    except (orjson.JSONEncodeError, TypeError):  # nested past what orjson writes
        return b""


def looks_like_record(value: Any) -> bool:
    """The adapters' notion of a record: a shape some format adapter reads. Turns
    (``{from, value}``, ``{role, content}``) and scalars are not records."""
    return detect_format(value) is not TraceFormat.UNKNOWN


def classify_object(stream: IO[bytes], token_cap: int) -> tuple[Shape, str | None]:
    """Read the start of the object document at the stream's position, up to a decision.

    ("container", key): top-level ``key`` holds an array whose items look like records (or an
    empty one), and the object itself does not look like one record. ("single", None): one
    whole document and nothing after it. ("broken", None): not one JSON document.
    ("undecided", None): a token over ``token_cap`` bytes came before any of these was known.
    """
    reader = _Counted(stream, token_cap)
    events: Iterator[Event] = ijson.basic_parse(reader, use_float=True)
    root: dict[str, Any] = {}  # a skeleton of the object so far, for the format detection
    pending: list[Any] = []  # the item skeleton being sampled, if the read stops inside it
    current: Any = None
    empty: str | None = None  # a container key with an empty array: an export of no records
    try:
        event, _ = next(events)
        if event != "start_map":
            return "broken", None
        for event, value in events:
            if event == "map_key":
                current = value
            elif event == "end_map":
                break
            elif (event == "start_array" and current in CONTAINER_KEYS
                  and not looks_like_record(root)):
                holds_records, first = _sample(events, pending)
                if holds_records:
                    return "container", str(current)
                root[current] = first
                empty = empty or (None if first else str(current))
            elif event == "start_map" or event == "start_array":
                root[current] = _skeleton(event, events, [])
            else:
                root[current] = _scalar(value)
        for _ in events:  # anything after the document makes it not one document
            pass
    except (ijson.JSONError, UnicodeDecodeError):
        if not reader.stopped:
            return "broken", None
        # stopped inside a container's item: judge the item by what was read of it
        if pending and looks_like_record(pending[0]) and not looks_like_record(root):
            return "container", str(current)
        return "undecided", None
    except StopIteration:
        return "broken", None
    if empty is not None and not looks_like_record(root):
        return "container", empty
    return "single", None


def _sample(events: Iterator[Event], pending: list[Any]) -> tuple[bool, list[Any]]:
    """Whether the array being read holds records: one of its first items looks like one.
    Consumes the array up to that item, or whole; returns the first item's skeleton too."""
    first: list[Any] = []
    # one loop turn per item: _skeleton reads a container item through to its end
    for seen, (event, value) in enumerate(events, 1):
        if event == "end_array":
            return False, first
        if event == "start_map" or event == "start_array":
            pending.clear()
            item = _skeleton(event, events, pending)
            pending.clear()
        else:
            item = _scalar(value)
        if looks_like_record(item):
            return True, first
        if not first:
            first.append(item)
        if seen == _SAMPLE:
            _skip(events, 1)
            return False, first
    raise ijson.IncompleteJSONError("premature EOF")  # pragma: no cover - yajl raises first


def _skeleton(first: str, events: Iterator[Event], pending: list[Any]) -> Any:
    """A small copy of one value: a few levels, a few list elements, strings cut short; deeper
    or further content is skipped unbuilt. ``pending`` holds the partial copy while it is read.
    """
    root: Any = {} if first == "start_map" else []
    pending.append(root)
    stack: list[Any] = [root]
    keys: list[Any] = [None]
    for event, value in events:
        if event == "map_key":
            keys[-1] = value
            continue
        if event == "end_map" or event == "end_array":
            stack.pop()
            keys.pop()
            if not stack:
                return root
            continue
        top = stack[-1]
        room = len(top) < (_SKELETON_LIST if type(top) is list else _SKELETON_KEYS)
        if event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if room:
                _place(top, keys[-1], child)
            if not room or len(stack) >= _SKELETON_DEPTH:
                _skip(events, 1)  # an empty container of the right type stands in for it
                continue
            stack.append(child)
            keys.append(None)
        elif room:
            _place(top, keys[-1], _scalar(value))
    raise ijson.IncompleteJSONError("premature EOF")  # pragma: no cover - yajl raises first


def _place(container: Any, key: Any, value: Any) -> None:
    if type(container) is list:
        container.append(value)
    else:
        container[key] = value


def _scalar(value: Any) -> Any:
    return value[:_SKELETON_TEXT] if type(value) is str else value
