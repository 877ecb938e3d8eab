"""Server-sent events: a job's stored state becomes a stream of its changes that ends with the
job, and the parser reads back what the writer wrote."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from rft_runtime.http.sse import (
    DONE,
    PROGRESS,
    EventStreamRefused,
    ServerSentEvent,
    event_stream,
    open_event_stream,
    parse_events,
    snapshot_events,
    sse_message,
)


class Job(BaseModel):
    done: int
    finished: bool = False


async def lines_of(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    async for chunk in chunks:
        for line in chunk.split("\n"):
            yield line


async def collect(chunks: AsyncIterator[str]) -> list[ServerSentEvent]:
    return [event async for event in parse_events(lines_of(chunks))]


async def test_each_change_is_sent_once_and_the_final_state_ends_the_stream() -> None:
    states = iter([Job(done=0), Job(done=0), Job(done=1), Job(done=1), Job(done=2),
                   Job(done=2, finished=True)])

    async def read() -> Job:
        return next(states)

    events = await collect(snapshot_events(read, lambda job: job.finished, interval_s=0))

    assert [e.event for e in events] == [PROGRESS, PROGRESS, PROGRESS, DONE]
    assert [Job.model_validate_json(e.data).done for e in events] == [0, 1, 2, 2]
    assert Job.model_validate_json(events[-1].data).finished
    assert [e.id for e in events] == ["1", "2", "3", "4"]


async def test_a_job_that_disappears_ends_the_stream_without_a_done_event() -> None:
    states = iter([Job(done=3), None])

    async def read() -> Job | None:
        return next(states)

    events = await collect(snapshot_events(read, lambda job: job.finished, interval_s=0))

    assert [(e.event, Job.model_validate_json(e.data).done) for e in events] == [(PROGRESS, 3)]


async def test_a_quiet_job_gets_keep_alive_comments_that_readers_skip() -> None:
    reads = 0

    async def read() -> Job:
        nonlocal reads
        reads += 1
        return Job(done=1, finished=reads > 3)

    chunks = [c async for c in snapshot_events(read, lambda job: job.finished, interval_s=0,
                                               keep_alive_s=-1)]

    assert chunks.count(": keep-alive\n\n") == 2

    async def replay() -> AsyncIterator[str]:
        for chunk in chunks:
            yield chunk
    assert [e.event for e in await collect(replay())] == [PROGRESS, DONE]


async def test_multi_line_data_and_unnamed_events_round_trip() -> None:
    async def written() -> AsyncIterator[str]:
        yield sse_message("<p>one</p>\n<p>two</p>", "fragment", 7)
        yield sse_message("plain")

    first, second = await collect(written())

    assert first == ServerSentEvent("fragment", "<p>one</p>\n<p>two</p>", "7")
    assert second == ServerSentEvent("message", "plain", "7")  # the last id carries over


def stream_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/jobs/{job_id}/events")
    async def events(job_id: str) -> StreamingResponse:
        if job_id != "j1":
            raise HTTPException(404, f"no job {job_id}")

        async def messages() -> AsyncIterator[str]:
            yield sse_message('{"done": 1}', PROGRESS, 1)
            yield sse_message('{"done": 2, "finished": true}', DONE, 2)

        return event_stream(messages())

    return app


async def test_an_opened_event_stream_reads_as_events_and_a_refused_one_keeps_its_answer() -> None:
    transport = httpx.ASGITransport(app=stream_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://jobs") as client:
        opened = await open_event_stream(client, "/v1/jobs/j1/events")
        try:
            events = [e async for e in parse_events(opened.aiter_lines())]
        finally:
            await opened.aclose()
        assert [(e.event, Job.model_validate_json(e.data).done) for e in events] == [
            (PROGRESS, 1), (DONE, 2)]

        with pytest.raises(EventStreamRefused) as refused:
            await open_event_stream(client, "/v1/jobs/j9/events")
        answer = refused.value.response
        assert answer.status_code == 404 and answer.json() == {"detail": "no job j9"}
        assert answer.is_closed
