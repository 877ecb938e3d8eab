"""Where a generation job reads its dataset: step C's categorized records, step D's coverage.

One reader protocol, :class:`CategorizedSource`, and two adapters:

- :class:`CategorizerAPI`: the categorizer service's API, which owns the records in its store
  (``GET /v1/datasets/{dataset}/categorized``, paged, and ``GET .../coverage``). The service
  reads from it when ``RFT_GENERATOR_CATEGORIZER_URL`` is set: in the cluster, no file of
  another service is there to find. A job's topic check asks it too
  (``POST .../topics:classify``, :func:`topic_checker_for`).
- :class:`CategorizedFiles`: ``categorized_prompts.jsonl`` and ``coverage.json``, the files the
  CLI's steps C and D write: ``rft generate`` and ``rft run`` read their output directory, and
  a service without a categorizer URL reads ``data_dir/<dataset>/`` (one machine).

Methods block (file reads, HTTP calls): async callers run them in a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
from numpy.typing import NDArray

from rft_generator.batch import read_categorized, read_coverage
from rft_generator.settings import GeneratorSettings
from rft_generator.topic_check import HttpTopicChecker, TopicChecker
from rft_runtime.http.auth import auth_headers
from rft_schemas import CategorizedPrompt, CoverageReport
from rft_schemas.artifacts import CATEGORIZED_PROMPTS, COVERAGE
from rft_schemas.names import dataset_dir
from rft_schemas.topics import TopicClassifyRequest, TopicClassifyResponse, TopicDecision

CATEGORIZED_FILE = CATEGORIZED_PROMPTS.name  # what step C writes
COVERAGE_FILE = COVERAGE.name  # what step D writes beside it


class DatasetNotReady(LookupError):
    """The dataset's categorized prompts (or coverage, without targets) are not there yet."""


class CategorizerUnavailable(ConnectionError):
    """The categorizer's API cannot answer now (unreachable, or a server error): try again."""


class CategorizerRefused(RuntimeError):
    """The categorizer refused a request (a 4xx other than 404): retrying will not help."""


class CategorizedSource(Protocol):
    def require(self, dataset: str) -> None:
        """Raise :class:`DatasetNotReady` unless the dataset's categorized records are there."""

    def categorized(self, dataset: str) -> list[CategorizedPrompt]:
        """Every categorized record of the dataset, in arrival order."""

    def coverage(self, dataset: str) -> CoverageReport:
        """The dataset's coverage report (its ``recommended_generate`` are the default targets)."""


class CategorizedFiles:
    """The files of steps C and D, in the directory ``directory(dataset)`` names."""

    def __init__(
        self, directory: Callable[[str], Path], categorized_path: Path | None = None
    ) -> None:
        """``categorized_path``: one categorized_prompts.jsonl for every dataset instead."""
        self._directory = directory
        self._categorized_path = categorized_path

    @classmethod
    def in_directory(cls, out_dir: Path) -> CategorizedFiles:
        """The CLI's output directory, holding one dataset's files."""
        return cls(lambda _dataset: out_dir)

    @classmethod
    def per_dataset(
        cls, data_dir: Path, categorized_path: Path | None = None
    ) -> CategorizedFiles:
        """``data_dir/<dataset>/`` for each dataset."""
        return cls(lambda dataset: dataset_dir(data_dir, dataset), categorized_path)

    def categorized_file(self, dataset: str) -> Path:
        return self._categorized_path or self._directory(dataset) / CATEGORIZED_FILE

    def coverage_file(self, dataset: str) -> Path:
        return self._directory(dataset) / COVERAGE_FILE

    def require(self, dataset: str) -> None:
        path = self.categorized_file(dataset)
        if not path.is_file():
            raise DatasetNotReady(f"no categorized prompts for dataset {dataset!r} at {path}")

    def categorized(self, dataset: str) -> list[CategorizedPrompt]:
        self.require(dataset)
        return read_categorized(self.categorized_file(dataset))

    def coverage(self, dataset: str) -> CoverageReport:
        path = self.coverage_file(dataset)
        if not path.is_file():
            raise DatasetNotReady(f"no coverage report at {path}")
        return read_coverage(path)


class CategorizerAPI:
    """The categorizer service's API at ``base_url`` (``http://categorizer.rft.svc:8000``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        page_size: int = 500,
        transport: httpx.BaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``transport``: another way to reach the API than the network (a test's);
        ``headers``: sent with each request (the API token, :func:`auth_headers`)."""
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self.page_size = page_size
        self._transport = transport

    def _get(self, dataset: str, what: str, params: dict[str, Any]) -> Any:
        """The JSON of ``GET /v1/datasets/{dataset}/{what}``; 404 is :class:`DatasetNotReady`
        (the categorizer answers 404 until the dataset has a topic hierarchy)."""
        return self._call("GET", dataset, what, params=params)

    def _call(self, method: str, dataset: str, what: str, **request: Any) -> Any:
        url = f"{self.base_url}/v1/datasets/{dataset}/{what}"
        try:
            with httpx.Client(
                timeout=self.timeout_s, transport=self._transport, headers=self.headers
            ) as client:
                response = client.request(method, url, **request)
        except httpx.TransportError as error:
            raise CategorizerUnavailable(f"the categorizer at {self.base_url}: {error}") from error
        if response.status_code == 404:
            raise DatasetNotReady(
                f"no {_NOUNS[what]} for dataset {dataset!r} at the categorizer ({self.base_url}): "
                f"{_detail(response)}"
            )
        if response.status_code >= 500:
            raise CategorizerUnavailable(
                f"the categorizer at {self.base_url} answered {response.status_code} to "
                f"{method} {url}: {_detail(response)}"
            )
        if response.status_code >= 400:  # a 4xx other than 404: this client's mistake
            raise CategorizerRefused(
                f"the categorizer at {self.base_url} answered {response.status_code} to "
                f"{method} {url}: {_detail(response)}"
            )
        return response.json()

    def require(self, dataset: str) -> None:
        self._get(dataset, "categorized", {"limit": 1})

    def categorized(self, dataset: str) -> list[CategorizedPrompt]:
        records: list[CategorizedPrompt] = []
        cursor = 0
        while True:
            page = self._get(dataset, "categorized", {"limit": self.page_size, "cursor": cursor})
            records += [CategorizedPrompt.model_validate(item) for item in page["items"]]
            if page["next_cursor"] is None:
                return records
            cursor = int(page["next_cursor"])

    def coverage(self, dataset: str) -> CoverageReport:
        return CoverageReport.model_validate(self._get(dataset, "coverage", {}))

    def classify(self, dataset: str, vectors: NDArray[np.float32]) -> list[TopicDecision]:
        """Step C's decision for each row (``POST /v1/datasets/{dataset}/topics:classify``, at
        most ``CLASSIFY_MAX_ROWS`` rows: :class:`HttpTopicChecker` sends them in chunks)."""
        body = TopicClassifyRequest(vectors=np.asarray(vectors, dtype=np.float32).tolist())
        answer = self._call("POST", dataset, "topics:classify", json=body.model_dump(mode="json"))
        return TopicClassifyResponse.model_validate(answer).decisions


_NOUNS = {
    "categorized": "categorized prompts",
    "coverage": "coverage report",
    "topics:classify": "topic hierarchy",
}


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except json.JSONDecodeError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:200]


def source_for(settings: GeneratorSettings) -> CategorizedSource:
    """The categorizer's API when ``categorizer_url`` is set; else the files under data_dir."""
    if settings.categorizer_url:
        return CategorizerAPI(
            settings.categorizer_url,
            timeout_s=settings.categorizer_timeout_s,
            headers=auth_headers(settings.api_token),  # a categorizer beyond loopback needs it
        )
    return CategorizedFiles.per_dataset(settings.data_dir, settings.categorized_path)


def topic_checker_for(source: CategorizedSource, dataset: str) -> TopicChecker | None:
    """Step C's decision through the categorizer's API whenever the job reads its dataset from
    the categorizer. None (the job's fallback, the nearest topic prototype) only when it reads
    the files of steps C and D and has no categorizer to ask."""
    if isinstance(source, CategorizerAPI):
        return HttpTopicChecker(source, dataset)
    return None
