"""Server-sent events: the wire format, and a job's snapshots as a stream.

Two kinds of stream serve the journey's long work. The training gateway stores each event and
streams them by sequence number. The generator's and the grader's jobs store their state, not
events: :func:`snapshot_events` turns that state into a stream, one ``progress`` event each time
it changes and one ``done`` event with the final state, after which the stream ends. Reading the
store (not an in-process signal) keeps it right with several replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

KEEP_ALIVE_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
PROGRESS, DONE = "progress", "done"

Snapshot = TypeVar("Snapshot", bound=BaseModel)


def sse_message(data: str, event: str | None = None, event_id: str | int | None = None) -> str:
    """One event; every line of ``data`` becomes its own ``data:`` line, as the format needs."""
    head = (f"id: {event_id}\n" if event_id is not None else "") + (
        f"event: {event}\n" if event else "")
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n"


def event_stream(events: AsyncIterator[str | bytes]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def snapshot_events(
    read: Callable[[], Awaitable[Snapshot | None]],
    finished: Callable[[Snapshot], bool],
    interval_s: float = 0.5,
    keep_alive_s: float = KEEP_ALIVE_S,
) -> AsyncIterator[str]:
    """``progress`` for the current state and each change of it, ``done`` for the final state.

    ``read`` returning None (the job was deleted) ends the stream. Event ids count the events
    sent, so a client can tell a replay from news; a reconnecting client starts over with the
    current state, which is all a snapshot stream has to give.
    """
    sent, last_json, quiet_since = 0, "", time.monotonic()
    while True:
        snapshot = await read()
        if snapshot is None:
            return
        text = snapshot.model_dump_json()
        if finished(snapshot):
            yield sse_message(text, DONE, sent + 1)
            return
        if text != last_json:
            sent, last_json, quiet_since = sent + 1, text, time.monotonic()
            yield sse_message(text, PROGRESS, sent)
        elif time.monotonic() - quiet_since > keep_alive_s:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(interval_s)


class EventStreamRefused(Exception):
    """An event stream's GET was answered with another status than 200; ``response`` holds
    the answer, its body read, for the caller to word in its own terms."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"the event stream was answered {response.status_code}")
        self.response = response


async def open_event_stream(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str] | None = None,
    request_timeout: httpx.Timeout | None = None,
) -> httpx.Response:
    """``GET url`` as a server-sent event stream: the response, status 200 and not read yet
    (close it when done: :func:`parse_events` reads it), or :class:`EventStreamRefused`.
    Opening before reading lets a caller answer its own client with the upstream's error
    instead of a stream that breaks off. Transport errors are httpx's own. Without
    ``request_timeout`` the client's own applies."""
    request = (
        client.build_request("GET", url, headers=headers) if request_timeout is None
        else client.build_request("GET", url, headers=headers, timeout=request_timeout)
    )
    response = await client.send(request, stream=True)
    if response.status_code != 200:
        await response.aread()
        await response.aclose()
        raise EventStreamRefused(response)
    return response


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


async def parse_events(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    """The events of a stream's lines (as ``httpx.Response.aiter_lines`` gives them); comments
    are skipped and an event without a name is a ``message``, as a browser reads them."""
    event, event_id = "", None
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data), event_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
