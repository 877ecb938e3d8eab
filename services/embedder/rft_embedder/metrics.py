"""The embedder's own Prometheus metric: near-duplicates found, beside the stage metrics."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter

_BY_REGISTRY: dict[int, Counter] = {}


def near_duplicates_counter(registry: CollectorRegistry = REGISTRY) -> Counter:
    """``rft_embedder_near_duplicates_total{dataset}``, created once per registry."""
    key = id(registry)
    if key not in _BY_REGISTRY:
        _BY_REGISTRY[key] = Counter(
            "rft_embedder_near_duplicates",
            "Prompts within the cosine threshold of an earlier prompt of their dataset",
            ["dataset"],
            registry=registry,
        )
    return _BY_REGISTRY[key]
