"""Read deadlines for HTTP connections: the request head and the request body must each arrive
within a set time, or the connection is closed.

uvicorn has no such timeout (0.55): ``timeout_keep_alive`` covers only the idle time between
requests and is reset by every byte received, and nothing covers a connection that never sends
a request. A client trickling a header one byte every few seconds held its connection for as
long as it liked (500 such clients were all held for 40 s). An ASGI middleware cannot help with
the head: the app is only called once the head is parsed. So the deadline lives in the
protocol, a subclass of uvicorn's h11 protocol, passed to ``uvicorn.Config(http=...)``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from rft_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 21\r\n\r\nrequest not received\n"
)


_SETTING = RuntimeSettings.model_fields


@dataclass(frozen=True)
class ConnectionLimits:
    """What a server allows one connection (the ``http_*`` runtime settings; their defaults)."""

    header_timeout_s: float = _SETTING["http_header_timeout_s"].default
    body_timeout_s: float = _SETTING["http_body_timeout_s"].default
    keep_alive_s: float = _SETTING["http_keep_alive_s"].default
    max_header_bytes: int = _SETTING["http_max_header_bytes"].default

    @classmethod
    def of(cls, settings: RuntimeSettings) -> ConnectionLimits:
        return cls(
            header_timeout_s=settings.http_header_timeout_s,
            body_timeout_s=settings.http_body_timeout_s,
            keep_alive_s=settings.http_keep_alive_s,
            max_header_bytes=settings.http_max_header_bytes,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        """The ``uvicorn.Config`` keywords that apply these limits."""
        return {
            "http": protocol_with(self),
            "timeout_keep_alive": self.keep_alive_s,
            "h11_max_incomplete_event_size": self.max_header_bytes,
        }


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head (from the connection, or
    from the first byte of a kept-alive connection's next request) and one for the body (from
    the end of the head). A head too slow is answered 408 and closed; a body too slow is cut
    (the app sees the client disconnect)."""

    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("head", self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
            # uvicorn's keep-alive timer covers the idle wait for the next request.
            self._disarm()
        else:  # a pipelined request already (partly) here, or a body never read
            self._follow_request()

    def _follow_request(self) -> None:
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self._arm("head", self.limits.header_timeout_s)
        elif state is h11.SEND_BODY:
            self._arm("body", self.limits.body_timeout_s)
        else:  # the whole request is in (DONE, MUST_CLOSE) or the connection is over
            self._disarm()

    def _arm(self, part: str, seconds: float) -> None:
        if self._waiting_for == part:
            return
        self._disarm()
        self._waiting_for = part
        self._deadline = self.loop.call_later(seconds, self._expired, part, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def _expired(self, part: str, seconds: float) -> None:
        self._deadline = None
        self._waiting_for = None
        if self.transport.is_closing():
            return
        log.warning(
            "request %s not received in time; connection closed", part,
            extra={"client": self.client, "timeout_s": seconds},
        )
        if part == "head" and self.conn.our_state is h11.IDLE:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()


def protocol_with(limits: ConnectionLimits) -> type[DeadlineH11Protocol]:
    """The protocol class for one server (uvicorn builds one instance per connection)."""
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"limits": limits})
