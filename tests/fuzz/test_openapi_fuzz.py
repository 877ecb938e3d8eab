"""Schemathesis over every service's OpenAPI: cases that fit each operation's schema and cases
that do not, sent over real HTTP on loopback to the services as they are built, with no server
error (5xx) allowed.

The services run in this process, on the shared server stack (read deadlines, body limits), in
a thread of their own, without a broker; the LLM endpoint is an address nothing listens on, so
a judge or a rollout fails fast as the dependency error it is. Bounded: ``CASES`` per operation
and generation mode, derandomized so that a CI run is reproducible, well under the ~3 minutes
the fuzz may take (the figure printed at the end).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from rft_runtime.http.deadlines import ConnectionLimits
from rft_runtime.kafka.broker import free_port
from rft_runtime.llm import LLMSettings
from rft_runtime.service import HttpApp, serve_many
from rft_runtime.settings import RuntimeSettings

CASES = 12
TIME_BUDGET_S = 180.0
# Body limit for the fuzzed services: generated bodies stay small anyway.
MAX_BODY = 1024 * 1024


@dataclass
class ServerError:
    service: str
    operation: str
    status: int
    body: str
    curl: str

    def __str__(self) -> str:
        return f"{self.service} {self.operation}: {self.status} {self.body[:300]}\n  {self.curl}"


def dead_llm() -> LLMSettings:
    return LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2.0,
                       max_retries=0)


def build_apps(root: Path) -> dict[str, FastAPI]:
    """Every service's app, no broker, state under ``root``."""
    from rft_categorizer.service import build_service as build_categorizer
    from rft_categorizer.settings import CategorizerSettings
    from rft_embedder import EmbedderSettings, load_embedder
    from rft_embedder.service import build_service as build_embedder
    from rft_generator.service import build_service as build_generator
    from rft_generator.settings import GeneratorSettings
    from rft_grader.dryrun.settings import DryRunSettings
    from rft_grader.service import build_service as build_grader
    from rft_runtime.vectorstore.edge import EdgeVectorStore
    from rft_sanitizer.service import build_service as build_sanitizer
    from rft_sanitizer.settings import SanitizerSettings

    def runtime(name: str) -> dict[str, Any]:
        return {"service_name": name, "data_dir": root / name, "log_json": False,
                "log_level": "WARNING", "kafka_bootstrap": None,
                "http_max_body_bytes": MAX_BODY}

    store = EdgeVectorStore(root / "qdrant")
    embedder = load_embedder(EmbedderSettings(), root / "models")
    apps: dict[str, FastAPI] = {}
    apps["sanitizer"], _, _ = build_sanitizer(SanitizerSettings(**runtime("sanitizer")))
    apps["embedder"], _, _ = build_embedder(
        RuntimeSettings(**runtime("embedder")), store=store, embedder=embedder)
    apps["categorizer"], _, _ = build_categorizer(
        CategorizerSettings(**runtime("categorizer")), store=store, embedder=embedder,
        llm=dead_llm())
    apps["generator"], _, _ = build_generator(
        GeneratorSettings(**runtime("generator")), llm=dead_llm(), vector_store=store,
        embedder=embedder)
    apps["grader"], _, _ = build_grader(
        DryRunSettings(**runtime("grader"), grader_judge_attempts=1, grader_judge_timeout_s=2.0),
        llm=dead_llm())
    gateway = build_trainer_gateway(runtime("trainer-gateway"))
    if gateway is not None:
        apps["trainer-gateway"] = gateway
    return apps


def build_trainer_gateway(runtime: dict[str, Any]) -> FastAPI | None:
    """The trainer gateway where it is installed, with a stand-in worker instead of TRL (a
    case that passed validation must not start a real training run here)."""
    try:
        from prometheus_client import CollectorRegistry

        from rft_schemas import TrainingBackendName
        from rft_trainer_gateway.backends.local import LocalTrlBackend
        from rft_trainer_gateway.service import build_service
        from rft_trainer_gateway.settings import TrainerSettings
    except ImportError:
        return None
    standin = LocalTrlBackend(module="tests.trainer_gateway.standin_worker",
                              extra_env={"STANDIN_STEP_S": "0.01"})
    app, _, _ = build_service(TrainerSettings(**runtime),
                              backends={TrainingBackendName.TRL: standin},
                              registry=CollectorRegistry())
    return app


@dataclass
class Served:
    urls: dict[str, str]
    apps: dict[str, FastAPI]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    apps = build_apps(tmp_path_factory.mktemp("fuzz"))
    entries = [HttpApp(app, "127.0.0.1", free_port(), ConnectionLimits()) for app in apps.values()]
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve_many(entries, [], stop, handle_signals=False))
        except BaseException as exc:  # reported by the fixture below
            failure.append(exc)

    thread = threading.Thread(target=run, name="fuzzed-services", daemon=True)
    thread.start()
    urls = {name: f"http://127.0.0.1:{e.port}" for name, e in zip(apps, entries, strict=True)}
    deadline = time.monotonic() + 60
    for url in urls.values():
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert not failure, failure
                assert time.monotonic() < deadline, f"{url} never answered"
                time.sleep(0.1)
    try:
        yield Served(urls, apps)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
    assert not failure, failure


def fuzz_operation(
    operation: Any, mode: GenerationMode, call: Callable[[Any], tuple[int, str, str]],
    found: list[tuple[int, str, str]],
) -> int:
    """Run CASES cases of one operation; returns how many were sent."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        status, body, curl = call(case)
        if status >= 500:
            found.append((status, body, curl))

    try:
        run()
    except Unsatisfiable:
        # no case of that mode exists (a negative case of an operation without parameters)
        assert mode is GenerationMode.NEGATIVE, operation.label
    return sent


def test_no_service_answers_a_fuzzed_request_with_a_server_error(served: Served) -> None:
    began = time.monotonic()
    errors: list[ServerError] = []
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for service, app in served.apps.items():
        service_began = time.monotonic()
        schema = schemathesis.openapi.from_dict(app.openapi())
        base = served.urls[service]
        with requests.Session() as session:

            def call(case: Any, base: str = base,
                     session: requests.Session = session) -> tuple[int, str, str]:
                response = case.call(base_url=base, session=session, timeout=30)
                text = response.content.decode("utf-8", "replace")
                return response.status_code, text, case.as_curl_command(base_url=base)

            for result in schema.get_all_operations():
                operation = result.ok()
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    found: list[tuple[int, str, str]] = []
                    counts[service] = counts.get(service, 0) + fuzz_operation(
                        operation, mode, call, found)
                    errors += [ServerError(service, f"{operation.label} ({mode.value})", *f)
                               for f in found]
        seconds[service] = round(time.monotonic() - service_began, 1)
    took = time.monotonic() - began
    print(f"\nfuzzed {sum(counts.values())} requests in {took:.0f} s: {counts}, seconds {seconds}")
    assert not errors, "\n".join(str(e) for e in errors[:20])
    assert set(counts) >= {"sanitizer", "embedder", "categorizer", "generator", "grader"}
    assert took < TIME_BUDGET_S



@pytest.mark.parametrize(("service", "path", "param"), [
    ("sanitizer", "/v1/datasets/d/rejected", "cursor"),
    ("categorizer", "/v1/datasets/d/topics", "version"),  # found by this fuzz: a 500
])
def test_integers_past_what_sql_stores_are_a_422_naming_the_parameter(
    served: Served, service: str, path: str, param: str
) -> None:
    too_big = httpx.get(f"{served.urls[service]}{path}", params={param: 2**63}, timeout=30)
    largest = httpx.get(f"{served.urls[service]}{path}", params={param: 2**63 - 1}, timeout=30)
    assert too_big.status_code == 422, too_big.text
    assert too_big.json()["detail"][0]["loc"] == ["query", param]
    assert largest.status_code < 500, largest.text
