"""Run a service: its HTTP app and its Kafka stages in one event loop, stopped by SIGTERM.

SIGTERM (Kubernetes' stop) sets the stop event: every stage finishes the batch in flight,
commits it, leaves its consumer group, and then the HTTP server shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.logs import configure_logging
from rft_runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service's stop event orders the shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class HttpApp:
    """One HTTP app and where it listens."""

    app: FastAPI
    host: str
    port: int


async def serve(
    app: FastAPI,
    stages: Sequence[KafkaStage[Any]],
    settings: RuntimeSettings,
    stop: asyncio.Event | None = None,
    *,
    handle_signals: bool = True,
) -> None:
    await serve_many(
        [HttpApp(app, settings.http_host, settings.http_port)],
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
    holds open, such as a Qdrant Edge directory, which only one process may open)."""
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
    stop.set()
    for task in done:
        if task is not stop_task and task.exception() is not None:
            log.error("task failed", extra={"task": task.get_name()}, exc_info=task.exception())
    await asyncio.gather(*stage_tasks, return_exceptions=True)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*http_tasks, return_exceptions=True)
    log.info("service stopped")


def run_service(
    app: FastAPI, stages: Sequence[KafkaStage[Any]], settings: RuntimeSettings
) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    asyncio.run(serve(app, stages, settings))
