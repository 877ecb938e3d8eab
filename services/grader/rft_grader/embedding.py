"""The embedder behind the ``cosine`` metric: the platform's embedder service over HTTP
(``RFT_GRADER_EMBEDDER_URL``, its ``POST /v1/embed``), or, on one machine where the embedder
package is installed (the ``rft`` CLI), the same model loaded in this process on first use.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from rft_grader.judging import Embedder
from rft_grader.settings import GraderSettings

# One client of the embedder service for every service that needs vectors (the generator too);
# its ``encode`` is this metric's interface. Named here too.
from rft_runtime.embedding.http import EmbedderUnavailable, HttpEmbedder

__all__ = ["EmbedderUnavailable", "HttpEmbedder", "LocalEmbedder", "configured_embedder"]


class LocalEmbedder:
    """The embedder package's model in this process, loaded on the first ``encode``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._model: Any = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            if self._model is None:
                from rft_embedder import EmbedderSettings, load_embedder

                self._model = load_embedder(EmbedderSettings(), self.data_dir)
        vectors = self._model.embed(texts)
        return [[float(x) for x in row] for row in vectors]


def configured_embedder(settings: GraderSettings) -> Embedder | None:
    """The service by URL, else the in-process model where the embedder package is installed,
    else None (a cosine grader then reports itself unavailable, sample by sample)."""
    return _configured(settings.grader_embedder_url, settings.data_dir, settings.api_token)


@cache
def _configured(url: str | None, data_dir: Path, token: SecretStr | None) -> Embedder | None:
    # One per process and place: a model load or a connection pool is not per grader.
    if url:
        return HttpEmbedder(url, token=token)
    try:
        import rft_embedder  # noqa: F401
    except ModuleNotFoundError:
        return None
    return LocalEmbedder(data_dir)
