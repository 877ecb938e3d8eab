"""Run a service: its HTTP app and its Kafka stages in one event loop, stopped by SIGTERM.

SIGTERM (Kubernetes' stop) sets the stop event: every stage finishes the batch in flight,
commits it, leaves its consumer group, and then the HTTP server shuts down.

A stage or HTTP server that fails (or ends before it was asked to) stops the others the same
way, and then the service raises :class:`ServiceFailed`: the process exits non-zero, so
Kubernetes, or `rft up`'s supervisor, restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from rft_runtime.http.deadlines import ConnectionLimits
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.logs import configure_logging
from rft_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


class ServiceFailed(RuntimeError):
    """A stage or HTTP server of the service failed; ``failures`` maps task name to error
    (``None``: it ended before the service was stopped)."""

    def __init__(self, failures: dict[str, BaseException | None]) -> None:
        self.failures = failures
        super().__init__(
            "service failed: "
            + "; ".join(
                f"{name}: ended unexpectedly" if e is None else f"{name}: {type(e).__name__}: {e}"
                for name, e in failures.items()
            )
        )


class HttpServerFailed(RuntimeError):
    """The HTTP server could not start (its lifespan failed, its port is taken)."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service's stop event orders the shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        except SystemExit as exit_:
            # uvicorn calls sys.exit() when startup fails: in a task that would tear through
            # the event loop and skip the stages' orderly stop; make it this task's failure
            raise HttpServerFailed(
                f"HTTP server on {self.config.host}:{self.config.port} failed to start "
                f"(uvicorn exit status {exit_.code})"
            ) from None


@dataclass(frozen=True)
class HttpApp:
    """One HTTP app, where it listens, and what it allows a connection."""

    app: FastAPI
    host: str
    port: int
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)


async def serve(
    app: FastAPI,
    stages: Sequence[KafkaStage[Any]],
    settings: RuntimeSettings,
    stop: asyncio.Event | None = None,
    *,
    handle_signals: bool = True,
) -> None:
    await serve_many(
        [HttpApp(app, settings.http_host, settings.http_port, ConnectionLimits.of(settings))],
        stages,
        stop,
        handle_signals=handle_signals,
    )


async def serve_many(
    apps: Sequence[HttpApp],
    stages: Sequence[KafkaStage[Any]],
    stop: asyncio.Event | None = None,
    *,
    handle_signals: bool = True,
) -> None:
    """Several services in one process, each app on its own port (they share what the process
    holds open, such as a Qdrant Edge directory, which only one process may open).

    Returns once stopped; raises ServiceFailed when a stage or server failed or ended first."""
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    servers = [
        _Server(
            uvicorn.Config(
                entry.app,
                host=entry.host,
                port=entry.port,
                log_config=None,
                access_log=False,  # rft_runtime.http.access_log writes structured request lines
                lifespan="on",
                **entry.limits.uvicorn_options(),
            )
        )
        for entry in apps
    ]
    stage_tasks = [asyncio.create_task(stage.run(stop), name=stage.name) for stage in stages]
    http_tasks = [
        asyncio.create_task(server.serve(), name=f"http:{entry.port}")
        for server, entry in zip(servers, apps, strict=True)
    ]
    log.info(
        "service started", extra={"ports": [a.port for a in apps], "stages": len(stages)}
    )
    stop_task = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        [stop_task, *http_tasks, *stage_tasks], return_when=asyncio.FIRST_COMPLETED
    )
    stopped_on_request = stop.is_set()
    stop.set()
    stop_task.cancel()
    stage_results = await asyncio.gather(*stage_tasks, return_exceptions=True)
    for server in servers:
        server.should_exit = True
    http_results = await asyncio.gather(*http_tasks, return_exceptions=True)

    failures: dict[str, BaseException | None] = {}
    tasks = [*stage_tasks, *http_tasks]
    for task, result in zip(tasks, [*stage_results, *http_results], strict=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            failures[task.get_name()] = result
        elif task in done and not stopped_on_request:
            # a stage runs and a server serves until stopped: ending first is a failure
            failures[task.get_name()] = None
    for name, error in failures.items():
        log.error(
            "task failed" if error else "task ended before the service was stopped",
            extra={"task": name},
            exc_info=error,
        )
    if failures:
        log.error("service stopped after a failure", extra={"failed": sorted(failures)})
        first = next((e for e in failures.values() if e is not None), None)
        raise ServiceFailed(failures) from first
    log.info("service stopped")


def run_service(
    app: FastAPI, stages: Sequence[KafkaStage[Any]], settings: RuntimeSettings
) -> None:
    """Serve until SIGTERM; exit with status 1 when a stage or the HTTP server failed."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    try:
        asyncio.run(serve(app, stages, settings))
    except ServiceFailed:
        # logged with its traceback; a non-zero status makes Kubernetes restart the pod
        sys.exit(1)
