"""The console's test fixtures: the services it calls, served in this event loop over real HTTP
on tiny real data, the console in front of them, and a real headless Chromium (Debian's, driven
by Playwright; skipped with the reason when either is missing)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from rft_categorizer.service import build_service as build_categorizer
from rft_categorizer.settings import CategorizerSettings
from rft_console.service import build_app
from rft_console.settings import ConsoleSettings
from rft_embedder import Embedder, EmbedderSettings, embed_prompts
from rft_generator.service import build_service as build_generator
from rft_generator.settings import GeneratorSettings
from rft_grader.dryrun.settings import DryRunSettings as GraderServiceSettings
from rft_grader.service import build_service as build_grader
from rft_runtime.llm import LLMSettings
from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.vectorstore.edge import EdgeVectorStore
from rft_sanitizer.service import build_service as build_sanitizer
from rft_sanitizer.settings import SanitizerSettings
from rft_schemas.traces import SanitizedPrompt
from rft_trainer_gateway.service import build_service as build_gateway
from rft_trainer_gateway.settings import TrainerSettings
from tests.categorizer_service.fixtures import (  # noqa: F401 - fixtures
    DRONE_TOPICS,
    as_dataset,
    drone_prompts,
    drone_sanitized,
    embedder,
    model_dir,
)
from tests.categorizer_service.http_server import served

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a sandboxed CI box: no GPU, nothing fetched by the browser on its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DATASET = "drone-console"
# The same prompts under another name, given a hierarchy and a split by the services' APIs
# (fixture split_dataset): the tests of H, the journey and I+J run on it whatever ran before.
SPLIT_DATASET = "drone-console-split"


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each screen's screenshot is kept (printed, so a CI job can collect it)."""
    path = tmp_path_factory.getbasetemp() / "console-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {path}")
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    # make install installs both; without them these tests fail, saying what is missing
    if not CHROMIUM.is_file():  # noqa: ASYNC240 - one stat, before any test
        pytest.fail(f"{CHROMIUM} is not installed (make install runs apt-get install -y "
                    "chromium)", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
async def sanitizer_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    settings = SanitizerSettings(
        service_name="sanitizer", data_dir=tmp_path_factory.mktemp("sanitizer"), log_json=False
    )
    app, _, runtime = build_sanitizer(settings)
    async with served(app, runtime) as client:
        yield str(client.base_url)


@pytest.fixture(scope="session")
async def vector_services(
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,  # noqa: F811 - the fixture
    drone_prompts: list[SanitizedPrompt],  # noqa: F811 - the fixture
    local_llm: LocalLLMServer,
) -> AsyncIterator[dict[str, str]]:
    """The categorizer and the generator on one Qdrant Edge dir (as `rft up` colocates them),
    the generator reading the categorizer's API. The drone prompts are embedded under DATASET
    and handed to the categorizer: in the stack the embedder's and the categorizer's Kafka
    stages do this after the sanitizer; no broker in this test. They wait uncategorized until
    the console gives a hierarchy."""
    data_dir = tmp_path_factory.mktemp("vectors")
    store = EdgeVectorStore(data_dir / "qdrant")
    app, _, runtime = build_categorizer(
        # a strict review threshold: the tiny sample leaves a review queue for step C
        CategorizerSettings(service_name="categorizer", data_dir=data_dir, log_json=False,
                            categorize_review_below=0.9),
        store=store, embedder=embedder,
    )
    for dataset in (DATASET, SPLIT_DATASET):
        embedded = embed_prompts(
            as_dataset(drone_prompts, dataset), embedder, store, EmbedderSettings()
        )
        assert app.state.topics.categorize_embedded(embedded.embedded) == []  # no hierarchy
    async with served(app, runtime) as categorizer:
        categorizer_url = str(categorizer.base_url).rstrip("/")
        generator_app, _, generator_runtime = build_generator(
            GeneratorSettings(service_name="generator", data_dir=data_dir, log_json=False,
                              categorizer_url=categorizer_url),
            LLMSettings(base_url=local_llm.base_url),  # step E writes with the local model
            vector_store=store, embedder=embedder,  # one model, as `rft up` colocates them
        )
        async with served(generator_app, generator_runtime) as generator:
            yield {"categorizer_url": categorizer_url,
                   "generator_url": str(generator.base_url).rstrip("/")}


@pytest.fixture(scope="session")
async def split_dataset(vector_services: dict[str, str]) -> str:
    """SPLIT_DATASET with step B's hierarchy (the drone topics) and step F's split, made
    through the categorizer's and the generator's APIs, as `rft submit` would."""
    async with httpx.AsyncClient(timeout=120) as client:
        topics = await client.put(
            f"{vector_services['categorizer_url']}/v1/datasets/{SPLIT_DATASET}/topics",
            json=DRONE_TOPICS)
        assert topics.status_code == 200, topics.text
        split = await client.post(
            f"{vector_services['generator_url']}/v1/datasets/{SPLIT_DATASET}/split",
            json={"valid_fraction": 0.1, "seed": 0})
        assert split.status_code == 201 and split.json()["train_rows"] > 0, split.text
    return SPLIT_DATASET


@pytest.fixture(scope="session")
async def grader_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The grader service; its LLM endpoint is never called here (no dry run, no judge)."""
    settings = GraderServiceSettings(
        service_name="grader", data_dir=tmp_path_factory.mktemp("grader"), log_json=False
    )
    app, _, runtime = build_grader(settings, LLMSettings(base_url="http://127.0.0.1:9/v1"))
    async with served(app, runtime) as client:
        yield str(client.base_url).rstrip("/")


@pytest.fixture(scope="session")
async def dry_run_console_url(
    tmp_path_factory: pytest.TempPathFactory, local_llm: LocalLLMServer,
    vector_services: dict[str, str],
) -> AsyncIterator[str]:
    """A console whose grader has a real model to roll out with: the local SmolLM2 server."""
    settings = GraderServiceSettings(
        service_name="grader", data_dir=tmp_path_factory.mktemp("grader-h"), log_json=False
    )
    app, _, runtime = build_grader(settings, LLMSettings(base_url=local_llm.base_url))
    async with served(app, runtime) as grader, console_for(tmp_path_factory.mktemp("console-h"),
                           grader_url=str(grader.base_url).rstrip("/"),
                           generator_url=vector_services["generator_url"]) as url:
        yield url


@asynccontextmanager
async def console_for(data_dir: Path, **urls: str) -> AsyncIterator[str]:
    """The console in front of the services at ``urls`` (``sanitizer_url=...``)."""
    settings = ConsoleSettings(
        service_name="console", data_dir=data_dir, log_json=False, dataset=DATASET, **urls
    )
    async with served(build_app(settings), settings) as client:
        yield str(client.base_url).rstrip("/")


@pytest.fixture(scope="session")
async def console_url(
    tmp_path_factory: pytest.TempPathFactory, sanitizer_url: str,
    vector_services: dict[str, str], grader_url: str,
) -> AsyncIterator[str]:
    async with console_for(tmp_path_factory.mktemp("console"), sanitizer_url=sanitizer_url,
                           grader_url=grader_url, **vector_services) as url:
        yield url


@pytest.fixture(scope="session")
async def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The trainer gateway with the stand-in worker (tests/trainer_gateway/standin_worker.py):
    the real supervisor, store and event stream; steps of 0.3 s instead of a model's."""
    os.environ["STANDIN_STEP_S"] = "0.3"  # read by the worker process the gateway starts
    settings = TrainerSettings(
        service_name="trainer-gateway", data_dir=tmp_path_factory.mktemp("gateway"),
        kafka_bootstrap=None, log_json=False,
        trainer_worker_module="tests.trainer_gateway.standin_worker",
        trainer_poll_interval_s=0.1, trainer_cancel_grace_s=20,
    )
    app, _, runtime = build_gateway(settings, registry=CollectorRegistry())
    async with served(app, runtime) as client:
        yield str(client.base_url).rstrip("/")


@pytest.fixture(scope="session")
async def journey_console_url(
    tmp_path_factory: pytest.TempPathFactory, local_llm: LocalLLMServer,
    vector_services: dict[str, str],
) -> AsyncIterator[str]:
    """A console whose gateway drives journeys through the generator and a grader that rolls
    out the local SmolLM2; that grader's dry runs are one prompt of 8-token answers."""
    grader_settings = GraderServiceSettings(
        service_name="grader", data_dir=tmp_path_factory.mktemp("grader-journey"),
        log_json=False, dryrun_prompts=1, dryrun_max_tokens=8,
    )
    grader_app, _, grader_runtime = build_grader(
        grader_settings, LLMSettings(base_url=local_llm.base_url, backend="local"))
    async with served(grader_app, grader_runtime) as grader:
        settings = TrainerSettings(
            service_name="trainer-gateway", data_dir=tmp_path_factory.mktemp("gateway-journey"),
            kafka_bootstrap=None, log_json=False, trainer_journey_poll_s=0.2,
            trainer_generator_url=vector_services["generator_url"],
            trainer_grader_url=str(grader.base_url).rstrip("/"),
        )
        app, _, runtime = build_gateway(settings, registry=CollectorRegistry())
        async with served(app, runtime) as gateway, console_for(
            tmp_path_factory.mktemp("console-journey"),
            gateway_url=str(gateway.base_url).rstrip("/"),
            generator_url=vector_services["generator_url"],
            grader_url=str(grader.base_url).rstrip("/"),
        ) as url:
            yield url


@pytest.fixture(scope="session")
async def real_training_console_url(
    tmp_path_factory: pytest.TempPathFactory, local_llm: LocalLLMServer,
    vector_services: dict[str, str], grader_url: str,
) -> AsyncIterator[str]:
    """A console whose gateway trains the real SmolLM2 (the real worker, on the CPU), on the
    generator's split, with the grader service's preset. ``local_llm`` has converted the model
    the worker loads."""
    settings = TrainerSettings(
        service_name="trainer-gateway", data_dir=tmp_path_factory.mktemp("gateway-real"),
        kafka_bootstrap=None, log_json=False, trainer_poll_interval_s=0.5,
    )
    app, _, runtime = build_gateway(settings, registry=CollectorRegistry())
    async with served(app, runtime) as gateway, console_for(
        tmp_path_factory.mktemp("console-real-i"), gateway_url=str(gateway.base_url).rstrip("/"),
        generator_url=vector_services["generator_url"], grader_url=grader_url,
    ) as url:
        yield url


@pytest.fixture(scope="session")
async def training_console_url(
    tmp_path_factory: pytest.TempPathFactory, gateway_url: str
) -> AsyncIterator[str]:
    async with console_for(tmp_path_factory.mktemp("console-i"), gateway_url=gateway_url) as url:
        yield url


class ConsoleErrors:
    """Every error the page logs or throws (a test ends asserting there were none)."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.messages.append(f"HTTP {response.status}: {response.url}")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text}")


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[tuple[Any, ConsoleErrors]]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    opened = await context.new_page()
    opened.set_default_timeout(30_000)
    errors = ConsoleErrors(opened)
    try:
        yield opened, errors
    finally:
        await context.close()
