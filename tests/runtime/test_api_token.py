"""The API token gate: tokenless on loopback, refused without the token anywhere else."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from rft_runtime.http.app import create_app
from rft_runtime.http.auth import is_loopback
from rft_runtime.settings import RuntimeSettings


def client_for(settings: RuntimeSettings) -> httpx.AsyncClient:
    app = create_app(settings, title="gated")

    @app.get("/v1/data")
    async def data() -> dict[str, str]:
        return {"secret": "prompts"}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "rft.example.com"])
def test_every_other_host_is_not(host: str) -> None:
    assert not is_loopback(host)


async def test_a_loopback_service_needs_no_token() -> None:
    async with client_for(RuntimeSettings(http_host="127.0.0.1")) as client:
        assert (await client.get("/v1/data")).status_code == 200


async def test_beyond_loopback_a_request_without_the_token_is_refused() -> None:
    settings = RuntimeSettings(http_host="0.0.0.0", api_token=SecretStr("s3cret"))
    async with client_for(settings) as client:
        assert (await client.get("/v1/data")).status_code == 401
        wrong = await client.get("/v1/data", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        right = await client.get("/v1/data", headers={"Authorization": "Bearer s3cret"})
        assert right.json() == {"secret": "prompts"}
        client.cookies.set("rft_token", "s3cret")
        assert (await client.get("/v1/data")).status_code == 200


async def test_beyond_loopback_without_a_configured_token_nothing_is_served() -> None:
    async with client_for(RuntimeSettings(http_host="0.0.0.0")) as client:
        refused = await client.get("/v1/data", headers={"Authorization": "Bearer anything"})
        assert refused.status_code == 401
        assert "RFT_API_TOKEN" in refused.json()["detail"]


async def test_probes_and_metrics_stay_open_for_the_kubelet_and_prometheus() -> None:
    async with client_for(RuntimeSettings(http_host="0.0.0.0")) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200, path
