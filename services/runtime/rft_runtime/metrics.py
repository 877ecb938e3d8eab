"""Prometheus metrics every stage exports, labelled by stage so one dashboard serves all."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class StageMetrics:
    records_in: Counter
    records_out: Counter
    records_rejected: Counter
    handler_seconds: Histogram
    consumer_lag: Gauge
    batches: Counter


_BY_REGISTRY: dict[int, StageMetrics] = {}


def stage_metrics(registry: CollectorRegistry = REGISTRY) -> StageMetrics:
    """The stage metric family, created once per registry (several stages share one process)."""
    key = id(registry)
    if key not in _BY_REGISTRY:
        _BY_REGISTRY[key] = StageMetrics(
            records_in=Counter(
                "rft_stage_records_in", "Records consumed", ["stage"], registry=registry
            ),
            records_out=Counter(
                "rft_stage_records_out", "Records produced", ["stage", "topic"], registry=registry
            ),
            records_rejected=Counter(
                "rft_stage_records_rejected",
                "Records sent to the rejected topic",
                ["stage", "reason"],
                registry=registry,
            ),
            handler_seconds=Histogram(
                "rft_stage_handler_seconds",
                "Seconds the stage handler spent on one batch",
                ["stage"],
                registry=registry,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            ),
            consumer_lag=Gauge(
                "rft_stage_consumer_lag",
                "High watermark minus the consumer position",
                ["stage", "topic", "partition"],
                registry=registry,
            ),
            batches=Counter("rft_stage_batches", "Batches committed", ["stage"], registry=registry),
        )
    return _BY_REGISTRY[key]
