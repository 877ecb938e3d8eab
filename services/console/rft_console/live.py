"""Live screens: a service's job events, re-rendered as the page's own HTML as they come.

The generator and the grader stream a job's state (``progress`` at each change, ``done`` at the
end: rft_runtime.http.sse). The console reads that stream and sends the browser the same
template the page was drawn with, filled with each new state, under the same event names; the
browser swaps it in (static/console.js). One template serves the first draw and every update,
and the HTML is autoescaped like every page: the browser never builds markup from trace text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from rft_console.rendering import Pages
from rft_console.upstream import Service, Upstream
from rft_runtime.http.sse import event_stream, parse_events, sse_message


async def rendered_events(
    up: Upstream,
    pages: Pages,
    service: Service,
    path: str,
    template: str,
    context_of: Callable[[Any], dict[str, Any]],
) -> StreamingResponse:
    """The stream at ``service``'s ``path``, each event's JSON rendered by ``template``."""
    upstream = await up.open_stream(service, path)

    async def relay() -> AsyncIterator[str]:
        try:
            async for event in parse_events(upstream.aiter_lines()):
                html = pages.fragment(template, **context_of(json.loads(event.data)))
                yield sse_message(html, event.event, event.id)
        finally:
            await upstream.aclose()  # the browser left, or the job ended

    return event_stream(relay())
