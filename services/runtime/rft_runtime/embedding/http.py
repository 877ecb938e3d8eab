"""The embedder service as an :class:`~rft_runtime.embedding.model.Embedder`: ``POST /v1/embed``
for vectors, ``GET /v1/embedder`` for the model's name and dimensions.

A service that needs vectors but not the model (the generator, the grader's cosine metric)
uses this; its name and dimensions are the service's own, so the keys it computes
(:func:`rft_runtime.embedding.points.embedding_key`) match the ones the embedder stored.
Blocking calls: use it from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from rft_runtime.http.auth import auth_headers

if TYPE_CHECKING:
    from rft_runtime.embedding.model import Vectors

__all__ = ["EmbedderInfo", "EmbedderUnavailable", "HttpEmbedder"]

DEFAULT_TEXTS_PER_REQUEST = 256
"""Well under the service's RFT_EMBEDDER_HTTP_MAX_TEXTS (2048) and its 4 MiB body limit at the
default 4,000 characters per task text."""


class EmbedderUnavailable(RuntimeError):
    """The embedder service did not answer, or answered something that is not vectors."""


class EmbedderInfo(BaseModel):
    """What ``GET /v1/embedder`` answers: the model every vector of the service comes from."""

    model: str
    dimensions: int


class HttpEmbedder:
    """Vectors from the embedder service at ``base_url`` (with the platform's API token)."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 30.0,
        token: SecretStr | None = None,
        texts_per_request: int = DEFAULT_TEXTS_PER_REQUEST,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/v1/embed"
        self.texts_per_request = texts_per_request
        # beyond loopback the embedder serves nobody without the platform's API token
        self._client = httpx.Client(timeout=timeout_s, headers=auth_headers(token))
        self._info: EmbedderInfo | None = None

    @property
    def name(self) -> str:
        return self.info().model

    @property
    def dimensions(self) -> int:
        return self.info().dimensions

    def info(self) -> EmbedderInfo:
        """The service's model, asked on first use (a blocking call) and then remembered;
        every embed answer updates it."""
        if self._info is None:
            url = self.base_url + "/v1/embedder"
            try:
                response = self._client.get(url)
                response.raise_for_status()
                self._info = EmbedderInfo.model_validate_json(response.content)
            except (httpx.HTTPError, ValidationError) as exc:
                raise EmbedderUnavailable(f"embedder service at {url}: {exc}") from exc
        return self._info

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Vectors as lists (what the grader's cosine metric takes)."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.texts_per_request):
            vectors += self._post(texts[start : start + self.texts_per_request])
        return vectors

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np  # here: the grader's path (encode) needs no numpy

        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.asarray(self.encode(list(texts)), dtype=np.float32)

    def close(self) -> None:
        self._client.close()

    def _post(self, texts: list[str]) -> list[list[float]]:
        try:
            response = self._client.post(self.url, json={"texts": texts})
            response.raise_for_status()
            body = response.json()
            vectors: list[list[float]] = body["vectors"]
            info = EmbedderInfo(model=body["model"], dimensions=body["dimensions"])
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise EmbedderUnavailable(f"embedder service at {self.url}: {exc}") from exc
        if len(vectors) != len(texts):
            raise EmbedderUnavailable(
                f"embedder service at {self.url}: {len(vectors)} vectors for {len(texts)} texts"
            )
        self._info = info  # the model that computed these vectors names them
        return vectors
