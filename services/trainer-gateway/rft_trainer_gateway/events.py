"""A job's event log: JSON lines in the job directory, one :class:`TrainingEvent` each.

The training process appends; readers page through by ``seq`` (the SSE event id, so a client's
``Last-Event-ID`` resumes exactly after what it saw). A line cut short by a crash mid-write is
skipped, never fatal: the next complete line is still read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from rft_schemas import TrainingEvent


class EventLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._next_seq: int | None = None

    def append(self, event: TrainingEvent) -> TrainingEvent:
        if self._next_seq is None:
            last = self.last()
            self._next_seq = (last.seq + 1) if last else 1
        event = event.model_copy(update={"seq": self._next_seq})
        self._next_seq += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = event.model_dump_json() + "\n"
        # One write of a whole line with O_APPEND: a reader never sees half an event from a
        # live writer, only from one that died mid-write (skipped by read()).
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return event

    def read(self, after_seq: int = 0, limit: int | None = None) -> list[TrainingEvent]:
        events: list[TrainingEvent] = []
        if not self.path.exists():
            return events
        with self.path.open("rb") as lines:
            for raw in lines:
                if not raw.endswith(b"\n"):
                    break  # a line still being written, or cut by a crash
                try:
                    event = TrainingEvent.model_validate_json(raw)
                except (ValidationError, json.JSONDecodeError):
                    continue
                if event.seq > after_seq:
                    events.append(event)
                    if limit is not None and len(events) >= limit:
                        break
        return events

    def last(self) -> TrainingEvent | None:
        events = self.read()
        return events[-1] if events else None
