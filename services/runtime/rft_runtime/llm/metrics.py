"""Prometheus metrics of LLM calls, created once per registry (many clients share a process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class LLMMetrics:
    requests: Counter
    latency_seconds: Histogram
    tokens: Counter
    retries: Counter


_BY_REGISTRY: dict[int, LLMMetrics] = {}


def llm_metrics(registry: CollectorRegistry = REGISTRY) -> LLMMetrics:
    """The LLM client metric family for ``registry``; the same objects on every call."""
    key = id(registry)
    if key not in _BY_REGISTRY:
        _BY_REGISTRY[key] = LLMMetrics(
            requests=Counter(
                "rft_llm_requests",
                "HTTP requests to the LLM endpoint by outcome (status code or error class)",
                ["endpoint", "model", "status"],
                registry=registry,
            ),
            latency_seconds=Histogram(
                "rft_llm_request_seconds",
                "Seconds one chat-completions HTTP request took",
                ["endpoint", "model"],
                registry=registry,
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
            ),
            tokens=Counter(
                "rft_llm_tokens",
                "Tokens the endpoint reported in usage",
                ["endpoint", "model", "kind"],
                registry=registry,
            ),
            retries=Counter(
                "rft_llm_retries",
                "Attempts retried after a 429, a 5xx or a connection error",
                ["endpoint", "model"],
                registry=registry,
            ),
        )
    return _BY_REGISTRY[key]
