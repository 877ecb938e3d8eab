"""The journey's client of the grader follows a dry run by its event stream: a stream that ends
before the run is done (a grader replica stopped) is opened again, and a grader that no longer
knows the run is a failure naming it. The grader is scripted here (an httpx transport) to end a
stream early on purpose; tests/trainer_gateway/test_journey.py follows real dry runs."""

from __future__ import annotations

import httpx
import pytest

from rft_runtime.http.sse import DONE, PROGRESS, sse_message
from rft_schemas import DryRunJob, DryRunStatus
from rft_trainer_gateway.journey_services import JourneyServices, ServiceClient, ServiceFailed

GRADER = "http://grader.test"


def state(done: int) -> DryRunJob:
    return DryRunJob(id="dr-1", dataset="drone", status=DryRunStatus.RUNNING, total=4, done=done)


def services(streams: list[tuple[int, str]]) -> tuple[JourneyServices, list[str]]:
    """A grader answering each GET of the events with the next of ``streams`` (status, body)."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        status, body = streams.pop(0)
        return httpx.Response(status, text=body, headers={"content-type": "text/event-stream"})

    transport = httpx.MockTransport(answer)
    client = ServiceClient("grader", "RFT_TRAINER_GRADER_URL", GRADER, 5, transport=transport)
    return JourneyServices(client, client), asked


async def test_a_stream_cut_before_done_is_opened_again_and_followed_to_the_end() -> None:
    cut = sse_message(state(1).model_dump_json(), PROGRESS, 1)  # then the replica stopped
    finished = state(4).model_copy(update={"status": DryRunStatus.DONE})
    whole = (sse_message(state(2).model_dump_json(), PROGRESS, 1) + ": keep-alive\n\n"
             + sse_message(finished.model_dump_json(), DONE, 2))
    journey_services, asked = services([(200, cut), (200, whole)])
    seen = [job async for job in journey_services.follow_dry_run("dr-1")]
    assert [(job.done, job.status) for job in seen] == [
        (1, DryRunStatus.RUNNING), (2, DryRunStatus.RUNNING), (4, DryRunStatus.DONE)]
    assert asked == ["/v1/dry-runs/dr-1/events"] * 2


async def test_a_grader_that_no_longer_knows_the_run_fails_naming_itself() -> None:
    journey_services, _ = services([(404, '{"detail": "no dry run dr-1"}')])
    with pytest.raises(ServiceFailed, match=f"the grader at {GRADER} answered 404 to GET "
                                            "/v1/dry-runs/dr-1/events: no dry run dr-1"):
        [job async for job in journey_services.follow_dry_run("dr-1")]
