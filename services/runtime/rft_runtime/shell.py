"""A service's shell, built once here from what the service declares.

A service names its settings, the resources it manages, the Kafka stages it runs and its
routers; the shell adds what every service needs and none should wire by hand: a producer
(only when the service publishes and a broker is configured), readiness on the broker and on
its stages consuming, the lifecycle order (resources start in the order they were declared and
stop in reverse) and the app with the runtime's middleware (token gate, limits, error shape).
Store and LLM outages are transient in every stage through :class:`KafkaStage` itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY, CollectorRegistry

from rft_runtime.http.app import (
    Managed,
    ReadinessCheck,
    create_app,
    stages_consuming,
    tcp_reachable,
)
from rft_runtime.kafka.producing import ManagedProducer, Outbound
from rft_runtime.kafka.stage import KafkaStage
from rft_runtime.settings import RuntimeSettings

Publish = Callable[[Sequence[Outbound]], Awaitable[None]]


class ServiceShell:
    """Collects one service's declarations; :meth:`app` assembles them."""

    def __init__(self, settings: RuntimeSettings, title: str) -> None:
        self.settings = settings
        self.title = title
        self.readiness: dict[str, ReadinessCheck] = {}
        self.managed: list[Managed] = []
        self.stages: list[KafkaStage[Any]] = []
        self._producer: ManagedProducer | None = None

    @property
    def streaming(self) -> bool:
        """A broker is configured: the service runs its Kafka stages and may publish."""
        return bool(self.settings.kafka_bootstrap)

    def publisher(self) -> Publish | None:
        """Where the service publishes: one producer, started among the managed resources at
        the place of this first call (what is managed after it may publish on start). None
        without a broker."""
        if not self.streaming:
            return None
        if self._producer is None:
            self._producer = ManagedProducer(self.settings)
            self.managed.append(self._producer)
        return self._producer.send_all

    def manage(self, *resources: Managed) -> None:
        self.managed.extend(resources)

    def ready_when(self, name: str, check: ReadinessCheck) -> None:
        self.readiness[name] = check

    def consume(self, *stages: KafkaStage[Any]) -> None:
        """The service's Kafka stages (declared only when :attr:`streaming`)."""
        if stages and not self.streaming:
            raise ValueError(f"{self.title}: a Kafka stage needs RFT_KAFKA_BOOTSTRAP")
        self.stages.extend(stages)

    def app(
        self,
        *routers: APIRouter,
        settings: RuntimeSettings | None = None,
        registry: CollectorRegistry = REGISTRY,
        open_paths: Sequence[str] = (),
    ) -> FastAPI:
        """The app; ``settings`` overrides the HTTP settings (a route's tighter body limit)."""
        readiness = dict(self.readiness)
        if self.settings.kafka_bootstrap and (self._producer is not None or self.stages):
            # ready only while the broker it uses answers (a broker set but unused is no
            # dependency)
            readiness.setdefault("kafka", tcp_reachable(self.settings.kafka_bootstrap))
        if self.stages:
            readiness["stage"] = stages_consuming(self.stages)
        app = create_app(settings or self.settings, title=self.title, readiness=readiness,
                         registry=registry, managed=self.managed, open_paths=open_paths)
        for router in routers:
            app.include_router(router)
        return app
