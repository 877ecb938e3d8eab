"""A service's shell from its declarations: the producer, readiness and lifecycle order are the
runtime's, the same for every service."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter

from rft_runtime.kafka.broker import free_port
from rft_runtime.kafka.producing import ManagedProducer
from rft_runtime.settings import RuntimeSettings
from rft_runtime.shell import ServiceShell
from tests.integration.echo_stage import build_stage


class Resource:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def hello_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return router


async def readyz(shell: ServiceShell) -> httpx.Response:
    app = shell.app(hello_router())
    # no lifespan here: nothing starts, the checks answer on their own
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://shell") as client:
        assert (await client.get("/v1/hello")).json() == {"hello": "world"}
        return await client.get("/readyz")


async def test_without_a_broker_nothing_publishes_or_consumes_and_kafka_is_no_dependency() -> None:
    shell = ServiceShell(RuntimeSettings(kafka_bootstrap=None), "plain")
    assert shell.publisher() is None and shell.managed == []
    with pytest.raises(ValueError, match="RFT_KAFKA_BOOTSTRAP"):
        shell.consume(build_stage(RuntimeSettings(kafka_bootstrap="127.0.0.1:9"), "in", "out", "g"))
    ready = await readyz(shell)
    assert ready.status_code == 200 and ready.json()["checks"] == {}


async def test_with_a_broker_one_producer_sits_where_it_was_first_asked_for() -> None:
    shell = ServiceShell(RuntimeSettings(kafka_bootstrap=f"127.0.0.1:{free_port()}"), "streams")
    before, after = Resource(), Resource()
    shell.manage(before)
    publish = shell.publisher()
    assert publish is not None and shell.publisher() is not None
    shell.manage(after)
    # started in this order, stopped in reverse: what comes after the producer may publish
    assert [type(m) for m in shell.managed] == [Resource, ManagedProducer, Resource]
    assert shell.managed[0] is before and shell.managed[2] is after


async def test_readiness_waits_for_the_broker_it_uses_and_for_its_stages_to_consume() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = RuntimeSettings(kafka_bootstrap=bootstrap)
    shell = ServiceShell(settings, "streams")
    shell.consume(build_stage(settings, "in", "out", "g"))
    shell.ready_when("store", _ok)
    ready = await readyz(shell)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert set(checks) == {"store", "kafka", "stage"} and checks["store"] == "ok"
    assert bootstrap in checks["kafka"] and "not consuming" in checks["stage"]


async def test_a_broker_the_service_never_uses_is_not_a_dependency() -> None:
    shell = ServiceShell(RuntimeSettings(kafka_bootstrap=f"127.0.0.1:{free_port()}"), "gateway")
    ready = await readyz(shell)
    assert ready.status_code == 200 and ready.json()["checks"] == {}


async def _ok() -> str | None:
    return None
