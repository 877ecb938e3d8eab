"""The embedder interface: a model name, its dimensions, normalized vectors of texts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Vectors"]

Vectors = npt.NDArray[np.float32]
"""Shape (texts, dimensions), one L2-normalized row per text."""


@runtime_checkable
class Embedder(Protocol):
    @property
    def name(self) -> str:
        """The model name recorded with every vector (``EmbeddedPrompt.model``)."""

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One normalized vector per text, in the order of ``texts``."""
