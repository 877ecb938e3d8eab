"""The FastAPI app factory: /healthz (alive), /readyz (dependencies reachable), /metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from rft_runtime.http.access_log import AccessLog
from rft_runtime.http.auth import OPEN_PATHS, TokenGate, token_required
from rft_runtime.http.limits import BodySizeLimit
from rft_runtime.http.validation_errors import validation_error_response
from rft_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when the dependency is ready, else why it is not."""


class Managed(Protocol):
    """A resource the app starts before serving and stops after (a producer, a client)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

READINESS_TIMEOUT_S = 2.0


def create_app(
    settings: RuntimeSettings,
    *,
    title: str,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    registry: CollectorRegistry = REGISTRY,
    managed: Sequence[Managed] = (),
    open_paths: Sequence[str] = (),
    login_path: str | None = None,
) -> FastAPI:
    """``open_paths``: served without the API token besides the probes (a login page);
    ``login_path``: where the token gate sends a browser without the token."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Managed] = []
        try:
            for resource in managed:
                await resource.start()
                started.append(resource)
            yield
        finally:
            for resource in reversed(started):
                await resource.stop()

    app = FastAPI(title=title, version="0.1.0", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, validation_error_response)
    checks = dict(readiness or {})

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run_check(check) for check in checks.values()))
        failures = {name: why for name, why in zip(checks, results, strict=True) if why}
        status = 503 if failures else 200
        return JSONResponse(
            {"ready": not failures, "checks": {n: failures.get(n, "ok") for n in checks}},
            status_code=status,
        )

    @app.get("/metrics", tags=["ops"])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(AccessLog)
    app.add_middleware(BodySizeLimit, max_bytes=settings.http_max_body_bytes)
    if token_required(settings.http_host):
        # outermost: an unauthenticated request is refused before its body is read
        app.add_middleware(
            TokenGate, token=settings.api_token, open_paths={*OPEN_PATHS, *open_paths},
            login_path=login_path,
        )
    return app


async def _run_check(check: ReadinessCheck) -> str | None:
    try:
        return await asyncio.wait_for(check(), READINESS_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {READINESS_TIMEOUT_S}s"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


class Consuming(Protocol):
    name: str
    running: bool


def stages_consuming(stages: Sequence[Consuming]) -> ReadinessCheck:
    """Ready once every Kafka stage of the service consumes (a service whose stage has not
    joined its group, or has stopped, must not get traffic)."""

    async def check() -> str | None:
        idle = [stage.name for stage in stages if not stage.running]
        return f"not consuming: {', '.join(idle)}" if idle else None

    return check


def tcp_reachable(servers: str) -> ReadinessCheck:
    """A check that one of ``host:port[,host:port]`` accepts TCP connections."""

    async def check() -> str | None:
        errors = []
        for server in servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                _, writer = await asyncio.open_connection(host or "localhost", int(port))
                writer.close()
                await writer.wait_closed()
                return None
            except OSError as exc:
                errors.append(f"{server}: {exc.strerror or exc}")
        return "; ".join(errors)

    return check
