"""The API token gate every service's app has: off on loopback, required on anything else.

A service that listens on loopback only is reachable by the users of this machine, who can read
its data dir anyway; one that listens on a network interface (a pod, ``RFT_HTTP_HOST=0.0.0.0``)
answers anybody who can route to it, so it serves nobody without ``RFT_API_TOKEN``: a request
must carry ``Authorization: Bearer <token>`` or the ``rft_token`` cookie (the console's browser
session). A non-loopback service with no token configured refuses every request rather than
serving them unauthenticated. The probes (/healthz, /readyz) and /metrics stay open: the kubelet
and Prometheus carry no token, and they expose no record.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Collection
from http.cookies import CookieError, SimpleCookie

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_COOKIE = "rft_token"
OPEN_PATHS: frozenset[str] = frozenset({"/healthz", "/readyz", "/metrics"})


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``; ``0.0.0.0`` and ``::`` (every interface) are not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def token_required(host: str) -> bool:
    return not is_loopback(host)


def presented_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token of the request, else its ``rft_token`` cookie."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    for name, value in headers:
        if name == b"cookie":
            try:
                morsel = SimpleCookie(value.decode("latin-1")).get(TOKEN_COOKIE)
            except CookieError:
                continue
            if morsel is not None and morsel.value:
                return morsel.value
    return None


def token_matches(presented: str | None, expected: SecretStr | None) -> bool:
    if presented is None or expected is None:
        return False
    # constant time: the comparison must not tell an attacker how much of a guess was right
    return hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())


class TokenGate:
    """ASGI middleware: 401 for a request without the right token (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: SecretStr | None,
        open_paths: Collection[str] = OPEN_PATHS,
        login_path: str | None = None,
    ) -> None:
        """``login_path``: where a browser's page request without the token is sent (303)
        instead of a 401 (the console's sign-in form)."""
        self.app = app
        self.token = token
        self.open_paths = frozenset(open_paths)
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        if token_matches(presented_token(scope.get("headers", [])), self.token):
            await self.app(scope, receive, send)
            return
        if self.login_path and _wants_page(scope):
            await send({
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", self.login_path.encode()), (b"content-length", b"0")],
            })
            await send({"type": "http.response.body", "body": b""})
            return
        detail = (
            "this service listens beyond loopback and has no RFT_API_TOKEN set: it serves "
            "no request until one is configured"
            if self.token is None
            else "missing or wrong API token (Authorization: Bearer <RFT_API_TOKEN>)"
        )
        body = json.dumps({"detail": detail}).encode()
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer"),
            ],
        })
        await send({"type": "http.response.body", "body": body})


def _wants_page(scope: Scope) -> bool:
    """A browser navigating (GET, HTML accepted), not a script or an htmx request."""
    headers = dict(scope.get("headers", []))
    return (
        scope.get("method") == "GET"
        and b"text/html" in headers.get(b"accept", b"")
        and b"hx-request" not in headers
    )


def auth_headers(token: SecretStr | None) -> dict[str, str]:
    """What a client of another service sends: the shared token when one is configured."""
    return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
