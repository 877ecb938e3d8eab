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


async def serve(
    app: FastAPI,
    stages: Sequence[KafkaStage[Any]],
    settings: RuntimeSettings,
    stop: asyncio.Event | None = None,
    *,
    handle_signals: bool = True,
) -> None:
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,  # rft_runtime.http.access_log writes structured request lines
            lifespan="on",
        )
    )
    stage_tasks = [asyncio.create_task(stage.run(stop), name=stage.name) for stage in stages]
    http_task = asyncio.create_task(server.serve(), name="http")
    log.info("service started", extra={"port": settings.http_port, "stages": len(stages)})
    stop_task = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        [stop_task, http_task, *stage_tasks], return_when=asyncio.FIRST_COMPLETED
    )
    stop.set()
    for task in done:
        if task is not stop_task and task.exception() is not None:
            log.error("task failed", extra={"task": task.get_name()}, exc_info=task.exception())
    await asyncio.gather(*stage_tasks, return_exceptions=True)
    server.should_exit = True
    await http_task
    log.info("service stopped")


def run_service(
    app: FastAPI, stages: Sequence[KafkaStage[Any]], settings: RuntimeSettings
) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    asyncio.run(serve(app, stages, settings))
