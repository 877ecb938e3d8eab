"""Python graders graded by the sandbox-workers service (``RFT_GRADER_SANDBOX_URL``, its
``POST /v1/graders:run``, :mod:`rft_grader.sandbox.server`) instead of workers in this process.

The service answers the grader run contract; its error flags become this sample's flags. A
service that cannot be reached, or answers anything but a run response, is the sample's
``python_grader_server_error`` (type ``unavailable``), as a sandbox that cannot start is.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr, ValidationError

from rft_grader.graders.base import Graded, Item, Outcome
from rft_grader.sample import Sample
from rft_runtime.http.auth import auth_headers
from rft_schemas.grader import GraderRunRequest, GraderRunResponse, PythonGrader


class RemoteSandbox:
    """Grades through the service, from a worker thread (one blocking call per sample)."""

    def __init__(self, base_url: str, timeout_s: float,
                 client: httpx.Client | None = None, token: SecretStr | None = None) -> None:
        self.url = base_url.rstrip("/") + "/v1/graders:run"
        # the sandbox service listens beyond loopback in a pod: it answers only the token's holder
        self._client = client or httpx.Client(timeout=timeout_s)
        self._headers = auth_headers(token)

    def grade(self, out: Outcome, config: PythonGrader, sample: Sample, item: Item) -> Graded:
        request = GraderRunRequest(grader=config, item=item, model_sample=sample.output_text,
                                   output_tools=list(sample.output_tools))
        try:
            answer = self._client.post(self.url, json=request.model_dump(mode="json"),
                                       headers=self._headers)
            answer.raise_for_status()
            response = GraderRunResponse.model_validate(answer.json())
        except (httpx.HTTPError, ValueError, ValidationError) as exc:
            out.flag("python_grader_server_error", f"sandbox service at {self.url}: {exc}")
            out.errors.python_grader_server_error_type = "unavailable"
            return 0.0, {}
        for name, value in response.metadata.errors.model_dump().items():
            if value is True:
                out.flag(name, f"sandbox service: {name}")
            elif value:
                setattr(out.errors, name, value)
        return response.reward, {}

    def close(self) -> None:
        self._client.close()
