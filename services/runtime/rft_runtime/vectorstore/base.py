"""The vector-store interface: what every step needs from Qdrant, and nothing more.

Two adapters implement it: Qdrant Edge (the engine in-process, on disk; one machine) and a
Qdrant server through qdrant-client (a cluster). Callers hold a :class:`VectorCollection` from
:meth:`VectorStore.ensure_collection` and never see either client's types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Payload = dict[str, Any]
FacetValue = str | int | bool
FilterValue = str | int | bool | Sequence[str] | Sequence[int] | None
PayloadFilter = Mapping[str, FilterValue]
"""Every key must match: a scalar matches equal values, a list matches any of its values, and
``None`` matches points where the key is missing, null or empty."""

Vector = Sequence[float] | npt.NDArray[np.float32]


class Distance(StrEnum):
    COSINE = "cosine"
    DOT = "dot"
    EUCLID = "euclid"


class IndexKind(StrEnum):
    """Payload index kinds: a keyword index is what makes counts and facets fast."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    dimensions: int
    distance: Distance = Distance.COSINE
    indexed: Mapping[str, IndexKind] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorPoint:
    id: str
    vector: Vector
    payload: Payload = field(default_factory=dict)


@dataclass(frozen=True)
class StoredPoint:
    """A point as read back: scored by a query (``score``) or listed by scroll/retrieve."""

    id: str
    payload: Payload
    vector: list[float] | None = None
    score: float | None = None


@dataclass(frozen=True)
class ScrollPage:
    points: list[StoredPoint]
    next_offset: str | None
    """Pass back as ``offset`` for the next page; ``None`` when this was the last page."""


class MissingCollectionError(LookupError):
    """No collection of that name exists (nothing was embedded into it yet)."""


class CollectionMismatchError(ValueError):
    """An existing collection has other dimensions or distance than the one asked for."""


@runtime_checkable
class VectorCollection(Protocol):
    """One collection: a set of same-sized vectors with JSON payloads, addressed by id."""

    @property
    def spec(self) -> CollectionSpec: ...

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id (idempotent: the same ids twice leave one copy)."""

    def query(
        self,
        vector: Vector,
        limit: int = 10,
        filter: PayloadFilter | None = None,
        with_vectors: bool = False,
    ) -> list[StoredPoint]:
        """The nearest points, best first; ``score`` is the similarity (cosine for COSINE)."""

    def count(self, filter: PayloadFilter | None = None) -> int:
        """Exact number of points matching the filter."""

    def facet(
        self, key: str, filter: PayloadFilter | None = None, limit: int = 10_000
    ) -> dict[FacetValue, int]:
        """Exact number of points per value of ``key`` (points without it are not counted)."""

    def scroll(
        self,
        filter: PayloadFilter | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> ScrollPage:
        """One page of points in id order, starting at the point id ``offset``."""

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[StoredPoint]:
        """The points among ``ids`` that exist (missing ids are left out)."""

    def set_payload(self, ids: Sequence[str], payload: Payload) -> None:
        """Merge ``payload`` into the payload of each point (other keys are kept)."""

    def optimize(self) -> None:
        """Build the vector index now (Edge); a server does this in the background itself."""


@runtime_checkable
class VectorStore(Protocol):
    def ensure_collection(self, spec: CollectionSpec) -> VectorCollection:
        """Open the collection, creating it and its payload indexes when missing.

        Raises :class:`CollectionMismatchError` when it exists with other dimensions/distance.
        """

    def open_collection(self, name: str) -> VectorCollection:
        """Open an existing collection as it was created (its dimensions and distance), for
        callers that hold no model to tell them. Raises :class:`MissingCollectionError`."""

    def collection_exists(self, name: str) -> bool: ...

    def delete_collection(self, name: str) -> None: ...

    def close(self) -> None: ...
