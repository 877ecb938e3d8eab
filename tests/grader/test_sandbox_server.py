"""The sandbox-workers service (python -m rft_grader.sandbox.server) and a grader that grades
python graders through it (RFT_GRADER_SANDBOX_URL)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rft_grader.graders.python_code import PythonCode
from rft_grader.sample import Sample
from rft_grader.sandbox.remote import RemoteSandbox
from rft_grader.sandbox.server import build_app
from rft_grader.settings import GraderSettings
from rft_schemas.grader import PythonGrader
from tests.grader.sandbox_kernel import REQUIRES_SANDBOX_KERNEL

pytestmark = REQUIRES_SANDBOX_KERNEL

EXACT = "def grade(sample, item):\n    return float(sample['output_text'] == item['answer'])\n"


@pytest.fixture
def service() -> Iterator[TestClient]:
    settings = GraderSettings(service_name="sandbox-workers", grader_sandbox_workers=1,
                              grader_sandbox_wall_time_s=2.0)
    with TestClient(build_app(settings)) as client:
        yield client


def run_body(source: str, sample: str = "Paris", grader_type: str = "python") -> dict:
    grader = ({"type": "python", "name": "p", "source": source} if grader_type == "python"
              else {"type": "string_check", "name": "s", "operation": "eq",
                    "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
    return {"grader": grader, "item": {"answer": "Paris"}, "model_sample": sample}


def test_service_grades_a_python_grader(service: TestClient) -> None:
    answer = service.post("/v1/graders:run", json=run_body(EXACT))
    assert answer.status_code == 200
    assert answer.json()["reward"] == 1.0
    assert service.post("/v1/graders:run", json=run_body(EXACT, "Rome")).json()["reward"] == 0.0


def test_service_refuses_other_grader_types_and_escapes(service: TestClient) -> None:
    assert service.post("/v1/graders:run", json=run_body("", grader_type="s")).status_code == 400
    refused = service.post("/v1/graders:run", json=run_body(
        "def grade(s, i):\n    return print.__self__.__import__('os').getpid()\n"))
    assert refused.status_code == 400
    assert {i["code"] for i in refused.json()["issues"]} == {"sandbox_escape"}


def test_service_reports_a_blocked_read_as_a_runtime_error(service: TestClient) -> None:
    source = ("def grade(s, i):\n    b = getattr(print, '__se' + 'lf__')\n"
              "    return float(len(getattr(b, 'op' + 'en')('/etc/passwd').read()))\n")
    body = service.post("/v1/graders:run", json=run_body(source)).json()
    assert body["reward"] == 0.0
    assert body["metadata"]["errors"]["python_grader_runtime_error"] is True
    assert "PermissionError" in body["metadata"]["errors"]["python_grader_runtime_error_details"]
    assert "root:" not in str(body)


def test_service_keeps_at_most_its_worker_budget_and_still_grades_each(
        service: TestClient) -> None:
    other = EXACT.replace("==", "!=")
    for _ in range(2):
        assert service.post("/v1/graders:run", json=run_body(EXACT)).json()["reward"] == 1.0
        assert service.post("/v1/graders:run", json=run_body(other)).json()["reward"] == 0.0


def test_a_grader_with_a_sandbox_url_grades_through_the_service(service: TestClient) -> None:
    config = PythonGrader(type="python", name="p", source=EXACT)
    grader = PythonCode(config, remote=RemoteSandbox("http://testserver", 10, client=service))
    good = asyncio.run(grader(Sample("Paris"), {"answer": "Paris"}))
    bad = asyncio.run(grader(Sample("Rome"), {"answer": "Paris"}))
    assert (good.reward, bad.reward) == (1.0, 0.0)
    assert not good.errors.any()
    assert grader.worker.starts == 0  # nothing ran in this process


def test_the_services_error_flags_become_the_samples(service: TestClient) -> None:
    config = PythonGrader(type="python", name="p",
                          source="def grade(s, i):\n    raise KeyError('answer')\n")
    grader = PythonCode(config, remote=RemoteSandbox("http://testserver", 10, client=service))
    result = asyncio.run(grader(Sample("Paris"), {}))
    assert result.reward == 0.0 and result.errors.python_grader_runtime_error
    assert "KeyError" in (result.errors.python_grader_runtime_error_details or "")


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The app behind a real HTTP server on a free loopback port (the client is plain httpx)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_in_a_pod_the_service_grades_only_for_the_holder_of_the_api_token() -> None:
    # A pod listens on every interface, so the service demands RFT_API_TOKEN; the grader sends
    # the same setting (build_grader passes settings.api_token).
    settings = GraderSettings(service_name="sandbox-workers", grader_sandbox_workers=1,
                              grader_sandbox_wall_time_s=2.0, http_host="0.0.0.0",
                              api_token=SecretStr("pod-token"))
    config = PythonGrader(type="python", name="p", source=EXACT)
    with serving(build_app(settings)) as url:
        holder = PythonCode(config, remote=RemoteSandbox(url, 10, token=SecretStr("pod-token")))
        stranger = PythonCode(config, remote=RemoteSandbox(url, 10))
        graded = asyncio.run(holder(Sample("Paris"), {"answer": "Paris"}))
        refused = asyncio.run(stranger(Sample("Paris"), {"answer": "Paris"}))
        holder.close()
        stranger.close()
    assert graded.reward == 1.0 and not graded.errors.any()
    assert refused.reward == 0.0 and refused.errors.python_grader_server_error
    assert any("401" in detail for detail in refused.error_details)


def test_an_unreachable_service_is_a_server_error_for_the_sample() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    config = PythonGrader(type="python", name="p", source=EXACT)
    grader = PythonCode(config, remote=RemoteSandbox("http://sandbox-workers:8000", 1,
                                                     client=client))
    result = asyncio.run(grader(Sample("Paris"), {"answer": "Paris"}))
    assert result.reward == 0.0 and result.errors.python_grader_server_error
    assert result.errors.python_grader_server_error_type == "unavailable"


def test_build_grader_uses_the_service_when_a_sandbox_url_is_set() -> None:
    from rft_grader.build import build_grader

    config = {"type": "python", "name": "p", "source": EXACT}
    remote = build_grader(config, settings=GraderSettings(
        grader_sandbox_url="http://sandbox-workers.rft.svc:8000"))
    local = build_grader(config, settings=GraderSettings(grader_sandbox_url=None))
    try:
        assert isinstance(remote.remote, RemoteSandbox)
        assert remote.remote.url == "http://sandbox-workers.rft.svc:8000/v1/graders:run"
        assert local.remote is None
    finally:
        remote.close()
        local.close()


async def test_the_real_service_process_grades_for_a_grader_over_http(tmp_path) -> None:
    # python -m rft_grader.sandbox.server on a free port, as the pod runs it, and a grader
    # configured as the grader's Deployment is (RFT_GRADER_SANDBOX_URL).
    from rft_grader.build import build_grader
    from tests.integration.service_process import ServiceProcess

    service = ServiceProcess("rft_grader.sandbox.server", {
        "RFT_SERVICE_NAME": "sandbox-workers", "RFT_DATA_DIR": str(tmp_path),
        "RFT_HTTP_HOST": "127.0.0.1", "RFT_GRADER_SANDBOX_URL": ""})
    await service.start()
    try:
        grader = build_grader({"type": "python", "name": "p", "source": EXACT},
                              settings=GraderSettings(grader_sandbox_url=service.url))
        try:
            result = await grader(Sample("Paris"), {"answer": "Paris"})
        finally:
            grader.close()
        assert result.reward == 1.0 and not result.errors.any()
        assert grader.worker.starts == 0
    finally:
        assert service.stop() == 0
