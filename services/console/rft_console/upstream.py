"""The console's one way to the services: their public HTTP APIs, with the shared API token.

A service that is not configured, not reachable or that refuses a call raises
:class:`UpstreamError`, which the app renders as a message on the screen instead of a stack
trace (rft_console.service).
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from rft_console.settings import ConsoleSettings
from rft_runtime.http.auth import auth_headers
from rft_runtime.http.sse import EventStreamRefused, open_event_stream

# A stream stays open as long as the work it follows; only connecting is bounded.
STREAM_TIMEOUT = httpx.Timeout(None, connect=10.0)

Service = Literal["sanitizer", "categorizer", "generator", "grader", "gateway"]


class UpstreamError(Exception):
    """A call the console made failed; ``status`` is the service's, None when none answered."""

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.status = status
        self.message = message


class Upstream:
    """One pooled HTTP client for every service (a Managed resource of the app)."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.urls: dict[str, str | None] = {
            "sanitizer": settings.sanitizer_url,
            "categorizer": settings.categorizer_url,
            "generator": settings.generator_url,
            "grader": settings.grader_url,
            "gateway": settings.gateway_url,
        }
        self._timeout = settings.request_timeout_s
        self._headers = auth_headers(settings.api_token)
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # a request before the lifespan started
            raise RuntimeError("the console's HTTP client is not started")
        return self._client

    def url(self, service: Service, path: str) -> str:
        base = self.urls[service]
        if not base:
            raise UpstreamError(
                service,
                f"the {service} is not configured (RFT_CONSOLE_{service.upper()}_URL)",
            )
        return base.rstrip("/") + path

    async def call(
        self, service: Service, method: str, path: str, *, missing_ok: bool = False, **kw: Any
    ) -> Any:
        """The JSON of the answer; None for a 404 when ``missing_ok`` (nothing there yet)."""
        url = self.url(service, path)
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.TransportError as error:
            raise UpstreamError(
                service, f"the {service} at {self.urls[service]} did not answer: {error!r}"
            ) from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise UpstreamError(
                service,
                f"the {service} answered {response.status_code} to {method} {path}: "
                f"{detail_of(response)}",
                response.status_code,
            )
        return response.json()

    async def open_stream(
        self, service: Service, path: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """A service's event stream, opened (status 200) and not yet read; close it after."""
        try:
            return await open_event_stream(self.client, self.url(service, path), headers,
                                           STREAM_TIMEOUT)
        except httpx.TransportError as error:
            raise UpstreamError(service, f"the {service} did not answer: {error!r}") from error
        except EventStreamRefused as refused:
            response = refused.response
            raise UpstreamError(service, f"the {service} answered {response.status_code} to "
                                         f"GET {path}: {detail_of(response)}",
                                response.status_code) from None


def detail_of(response: httpx.Response) -> str:
    """The API's ``detail`` (a string, or FastAPI's validation list), else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(
            f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', d)}"
            if isinstance(d, dict) else str(d)
            for d in detail
        )
    if isinstance(detail, dict):
        return str(detail.get("detail") or detail)
    return str(detail)
