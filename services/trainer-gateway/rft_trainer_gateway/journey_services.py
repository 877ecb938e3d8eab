"""The journey's calls to the services that own steps F, G and H: the generator (the split) and
the grader (the preset, validation, dry runs). Every failure is a :class:`ServiceFailed` naming
the service, its URL, the call and what it answered: that text is the failed step's reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from rft_runtime.http.sse import (
    DONE,
    EventStreamRefused,
    ServerSentEvent,
    open_event_stream,
    parse_events,
)
from rft_schemas import (
    DatasetSplit,
    DryRunJob,
    DryRunRequest,
    GraderPresetResponse,
    GraderValidateResponse,
    SplitRequest,
)


class ServiceFailed(RuntimeError):
    """A service could not be reached, or refused the call."""


class ServiceNotConfigured(ServiceFailed):
    pass


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return response.text[:300]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return (detail if isinstance(detail, str) else json.dumps(detail))[:600]


class ServiceClient:
    def __init__(self, name: str, setting: str, base_url: str | None, timeout_s: float,
                 headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        """``setting``: the environment variable that sets ``base_url`` (said when unset);
        ``headers``: sent with each call (the API token, ``auth_headers``)."""
        self.name = name
        self.headers = dict(headers or {})
        self.setting = setting
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout_s = timeout_s
        self._transport = transport

    async def call(self, method: str, path: str, body: Any = None,
                   params: dict[str, Any] | None = None,
                   missing_ok: bool = False) -> Any:
        """The answer's JSON; None for a 404 when ``missing_ok``."""
        url = self._url(path)
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, headers=self.headers,
                                         transport=self._transport) as client:
                response = await client.request(method, url, json=body, params=params)
        except httpx.HTTPError as error:
            raise self._unreachable(method, path, error) from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise self._refused(method, path, response)
        return response.json()

    async def events(self, path: str) -> AsyncIterator[ServerSentEvent]:
        """A server-sent event stream's events until the service ends it. Waiting between
        events has no limit (a step can be quiet for minutes; the stream sends keep-alives), so
        only connecting and each read of the first answer are timed."""
        url = self._url(path)
        timeout = httpx.Timeout(self.timeout_s, read=None)
        try:
            async with httpx.AsyncClient(timeout=timeout, headers=self.headers,
                                         transport=self._transport) as client:
                response = await open_event_stream(client, url)
                try:
                    async for event in parse_events(response.aiter_lines()):
                        yield event
                finally:
                    await response.aclose()
        except EventStreamRefused as refused:
            raise self._refused("GET", path, refused.response) from None
        except httpx.HTTPError as error:
            raise self._unreachable("GET", path, error) from error

    def _url(self, path: str) -> str:
        if self.base_url is None:
            raise ServiceNotConfigured(f"no {self.name} service configured: set {self.setting}")
        return f"{self.base_url}{path}"

    def _unreachable(self, method: str, path: str, error: httpx.HTTPError) -> ServiceFailed:
        return ServiceFailed(f"the {self.name} at {self.base_url} cannot be reached "
                             f"({method} {path}): {type(error).__name__}: {error}")

    def _refused(self, method: str, path: str, response: httpx.Response) -> ServiceFailed:
        return ServiceFailed(f"the {self.name} at {self.base_url} answered "
                             f"{response.status_code} to {method} {path}: {_detail(response)}")


class JourneyServices:
    def __init__(self, generator: ServiceClient, grader: ServiceClient) -> None:
        self.generator = generator
        self.grader = grader

    async def split(self, dataset: str, request: SplitRequest) -> DatasetSplit:
        """Step F: the generator makes and stores the split (answered without rows)."""
        made = await self.generator.call("POST", f"/v1/datasets/{dataset}/split",
                                         request.model_dump(mode="json"))
        return DatasetSplit.model_validate(made)

    async def split_rows(self, dataset: str) -> DatasetSplit:
        """The stored split with its train and valid rows."""
        found = await self.generator.call("GET", f"/v1/datasets/{dataset}/split")
        return DatasetSplit.model_validate(found)

    async def preset(self, rows: list[dict[str, Any]]) -> GraderPresetResponse:
        answer = await self.grader.call("POST", "/v1/graders:preset", {"rows": rows})
        return GraderPresetResponse.model_validate(answer)

    async def validate(self, grader: dict[str, Any],
                       fields: list[str]) -> GraderValidateResponse:
        answer = await self.grader.call("POST", "/v1/graders:validate",
                                        {"grader": grader, "dataset_fields": fields})
        return GraderValidateResponse.model_validate(answer)

    async def submit_dry_run(self, request: DryRunRequest) -> DryRunJob:
        """The same request again is the same job (the grader derives its id from it)."""
        answer = await self.grader.call("POST", "/v1/dry-runs",
                                        request.model_dump(mode="json"))
        return DryRunJob.model_validate(answer)

    async def dry_run(self, job_id: str) -> DryRunJob | None:
        answer = await self.grader.call("GET", f"/v1/dry-runs/{job_id}", missing_ok=True)
        return None if answer is None else DryRunJob.model_validate(answer)

    async def follow_dry_run(self, job_id: str) -> AsyncIterator[DryRunJob]:
        """The dry run's state as the grader streams it (``GET /v1/dry-runs/{id}/events``):
        now, at each change, and last when it is done. A stream that ends before that (a grader
        replica stopped) is opened again: it starts over with the current state. A grader that
        cannot be reached, or no longer knows the job, is a :class:`ServiceFailed`."""
        while True:
            async for event in self.grader.events(f"/v1/dry-runs/{job_id}/events"):
                job = DryRunJob.model_validate_json(event.data)
                yield job
                if event.event == DONE:
                    return
