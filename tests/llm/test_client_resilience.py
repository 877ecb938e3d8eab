"""The client's retries, limits and fan-out, against a real scripted HTTP server on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from rft_runtime.llm.client import (
    LLMClient,
    LLMRequestError,
    LLMUnavailableError,
)
from rft_runtime.llm.local_server import llm_endpoint
from rft_runtime.llm.settings import LLMSettings
from tests.llm.conftest import Reply, ScriptedServer, completion_body

Start = Callable[[Callable[[int], Reply]], ScriptedServer]
HELLO = [{"role": "user", "content": "hello"}]


def fast_settings(**overrides: object) -> LLMSettings:
    values: dict[str, object] = {
        "model": "scripted", "max_retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return LLMSettings.model_validate(values)


async def test_503_then_200_is_retried_and_answered(scripted_server: Start) -> None:
    server = scripted_server(
        lambda k: Reply(503, {"error": "loading"}) if k < 2 else Reply(200, completion_body())
    )
    registry = CollectorRegistry()
    async with LLMClient(fast_settings(), base_url=server.base_url, registry=registry) as client:
        response = await client.complete(HELLO)
    assert response.choices[0].message.content == "ok-0"
    assert len(server.requests) == 3
    labels = {"endpoint": server.base_url, "model": "scripted"}
    assert registry.get_sample_value("rft_llm_requests_total", {**labels, "status": "503"}) == 2
    assert registry.get_sample_value("rft_llm_requests_total", {**labels, "status": "200"}) == 1
    assert registry.get_sample_value("rft_llm_retries_total", labels) == 2


async def test_429_retry_after_is_waited(scripted_server: Start) -> None:
    server = scripted_server(
        lambda k: Reply(429, {"error": "slow down"}, headers={"retry-after": "0.3"})
        if k == 0
        else Reply(200, completion_body())
    )
    began = time.monotonic()
    async with LLMClient(
        fast_settings(backoff_max_s=1.0), base_url=server.base_url, registry=CollectorRegistry()
    ) as client:
        await client.complete(HELLO)
    assert time.monotonic() - began >= 0.3
    assert len(server.requests) == 2


async def test_persistent_5xx_fails_after_bounded_attempts_naming_endpoint(
    scripted_server: Start,
) -> None:
    server = scripted_server(lambda k: Reply(502, {"error": "bad gateway"}))
    async with LLMClient(
        fast_settings(max_retries=2), base_url=server.base_url, registry=CollectorRegistry()
    ) as client:
        with pytest.raises(LLMUnavailableError) as failure:
            await client.complete(HELLO)
    assert len(server.requests) == 3
    assert failure.value.attempts == 3
    assert server.base_url in str(failure.value)
    assert "502" in str(failure.value)


async def test_bad_endpoint_fails_clearly_after_bounded_retries() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/v1"
    began = time.monotonic()
    async with LLMClient(
        fast_settings(max_retries=2), base_url=endpoint, registry=CollectorRegistry()
    ) as client:
        with pytest.raises(LLMUnavailableError) as failure:
            await client.complete(HELLO)
    assert time.monotonic() - began < 5
    assert failure.value.attempts == 3
    assert endpoint in str(failure.value)
    assert "ConnectError" in failure.value.last_error


async def test_client_error_is_not_retried(scripted_server: Start) -> None:
    server = scripted_server(lambda k: Reply(400, {"error": "unknown model"}))
    async with LLMClient(
        fast_settings(), base_url=server.base_url, registry=CollectorRegistry()
    ) as client:
        with pytest.raises(LLMRequestError) as failure:
            await client.complete(HELLO)
    assert failure.value.status == 400
    assert "unknown model" in str(failure.value)
    assert len(server.requests) == 1


async def test_concurrency_limit_bounds_requests_in_flight(scripted_server: Start) -> None:
    server = scripted_server(lambda k: Reply(200, completion_body(), delay_s=0.1))
    async with LLMClient(
        fast_settings(concurrency=2), base_url=server.base_url, registry=CollectorRegistry()
    ) as client:
        await asyncio.gather(*(client.complete(HELLO) for _ in range(8)))
    assert len(server.requests) == 8
    assert server.max_in_flight == 2


async def test_server_answering_fewer_choices_is_fanned_out_to_n(scripted_server: Start) -> None:
    server = scripted_server(lambda k: Reply(200, completion_body(content=f"r{k}")))
    async with LLMClient(
        fast_settings(), base_url=server.base_url, registry=CollectorRegistry()
    ) as client:
        response = await client.complete(HELLO, n=3, seed=10, temperature=0.8)
    assert [c.index for c in response.choices] == [0, 1, 2]
    assert sorted(c.message.content or "" for c in response.choices) == ["r0-0", "r1-0", "r2-0"]
    assert response.usage is not None and response.usage.completion_tokens == 9
    assert client.usage.requests == 3 and client.usage.completion_tokens == 9
    first, *rest = server.requests
    assert first["n"] == 3 and first["seed"] == 10
    assert sorted(r["seed"] for r in rest) == [11, 12]  # type: ignore[type-var]
    assert all(r["n"] == 1 for r in rest)


async def test_many_clients_share_one_registry_without_duplicate_metrics(
    scripted_server: Start,
) -> None:
    server = scripted_server(lambda k: Reply(200, completion_body()))
    registry = CollectorRegistry()
    for _ in range(3):
        async with LLMClient(fast_settings(), base_url=server.base_url, registry=registry) as c:
            await c.complete(HELLO)
    labels = {"endpoint": server.base_url, "model": "scripted", "kind": "completion"}
    assert registry.get_sample_value("rft_llm_tokens_total", labels) == 9


async def test_request_fields_reach_the_server_as_openai_names(scripted_server: Start) -> None:
    server = scripted_server(lambda k: Reply(200, completion_body()))
    async with LLMClient(
        fast_settings(api_key="sk-test"), base_url=server.base_url, registry=CollectorRegistry()
    ) as client:
        await client.complete(
            HELLO, temperature=0.5, top_p=0.9, max_tokens=12, stop=["\n"], seed=3,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )
    sent = server.requests[0]
    assert server.authorizations == ["Bearer sk-test"]
    assert sent["temperature"] == 0.5 and sent["top_p"] == 0.9 and sent["max_tokens"] == 12
    assert sent["stop"] == ["\n"] and sent["seed"] == 3
    assert sent["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    assert "response_format" not in sent  # unset fields are not sent: servers differ in defaults


def test_configured_endpoint_is_used_without_starting_a_local_server() -> None:
    configured = LLMSettings(base_url="http://127.0.0.1:9/v1", model="served")
    with llm_endpoint(configured) as settings:
        assert settings is configured


def test_client_package_does_not_import_torch() -> None:
    import subprocess
    import sys

    probe = "import sys, rft_runtime.llm; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


async def test_a_server_slower_than_the_timeout_is_retried_then_answered(
    scripted_server: Start,
) -> None:
    server = scripted_server(
        lambda k: Reply(200, completion_body(), delay_s=1.0) if k == 0
        else Reply(200, completion_body())
    )
    async with LLMClient(fast_settings(timeout_s=0.3), base_url=server.base_url,
                         registry=CollectorRegistry()) as client:
        response = await client.complete(HELLO)
    assert response.choices[0].message.content == "ok-0"
    assert len(server.requests) == 2  # the timed-out request, then its retry


def test_backoff_is_jittered_under_a_growing_cap_and_honours_retry_after() -> None:
    client = LLMClient(fast_settings(backoff_base_s=0.1, backoff_max_s=1.0),
                       base_url="http://127.0.0.1:9/v1", registry=CollectorRegistry())
    first = [client._backoff_s(0, None) for _ in range(200)]
    third = [client._backoff_s(2, None) for _ in range(200)]
    assert all(0 <= d <= 0.1 for d in first) and all(0 <= d <= 0.4 for d in third)
    assert len(set(first)) > 150, "full jitter: clients that failed together spread out"
    assert max(third) > 0.2  # the cap grows with the attempt
    assert all(d >= 0.5 for d in (client._backoff_s(0, 0.5) for _ in range(50)))
    assert all(d <= 1.0 for d in (client._backoff_s(0, 30.0) for _ in range(50)))
