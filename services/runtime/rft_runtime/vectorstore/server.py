"""Qdrant server adapter through qdrant-client.

The same code runs against a server (``QdrantClient(url=...)``, production) and against
qdrant-client's local mode (``QdrantClient(location=":memory:")`` or ``path=``), which speaks the
same client API; the tests use the local mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from rft_runtime.vectorstore.base import (
    CollectionMismatchError,
    CollectionSpec,
    Distance,
    FacetValue,
    IndexKind,
    MissingCollectionError,
    Payload,
    PayloadFilter,
    ScrollPage,
    StoredPoint,
    Vector,
    VectorPoint,
)

_DISTANCES = {
    Distance.COSINE: qm.Distance.COSINE,
    Distance.DOT: qm.Distance.DOT,
    Distance.EUCLID: qm.Distance.EUCLID,
}
_INDEX_KINDS = {
    IndexKind.KEYWORD: qm.PayloadSchemaType.KEYWORD,
    IndexKind.INTEGER: qm.PayloadSchemaType.INTEGER,
    IndexKind.FLOAT: qm.PayloadSchemaType.FLOAT,
    IndexKind.BOOL: qm.PayloadSchemaType.BOOL,
}


def _filter(payload_filter: PayloadFilter | None) -> qm.Filter | None:
    if not payload_filter:
        return None
    must: list[Any] = []
    for key, value in payload_filter.items():
        if value is None:
            must.append(qm.IsEmptyCondition(is_empty=qm.PayloadField(key=key)))
        elif isinstance(value, str | int | bool):
            must.append(qm.FieldCondition(key=key, match=qm.MatchValue(value=value)))
        else:
            must.append(qm.FieldCondition(key=key, match=qm.MatchAny(any=list(value))))
    return qm.Filter(must=must)


def _as_list(vector: Vector) -> list[float]:
    if isinstance(vector, np.ndarray):
        return [float(x) for x in vector.astype(np.float32).tolist()]
    return [float(x) for x in vector]


def _stored(point: Any, score: float | None = None) -> StoredPoint:
    vector = point.vector
    return StoredPoint(
        id=str(point.id),
        payload=dict(point.payload or {}),
        vector=[float(x) for x in vector] if isinstance(vector, list) else None,
        score=score,
    )


class ServerCollection:
    def __init__(self, client: QdrantClient, spec: CollectionSpec) -> None:
        self._client = client
        self._spec = spec

    @property
    def spec(self) -> CollectionSpec:
        return self._spec

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        self._client.upsert(
            self._spec.name,
            points=[
                qm.PointStruct(id=p.id, vector=_as_list(p.vector), payload=dict(p.payload))
                for p in points
            ],
            wait=True,
        )

    def query(
        self,
        vector: Vector,
        limit: int = 10,
        filter: PayloadFilter | None = None,
        with_vectors: bool = False,
    ) -> list[StoredPoint]:
        response = self._client.query_points(
            self._spec.name,
            query=_as_list(vector),
            limit=limit,
            query_filter=_filter(filter),
            with_payload=True,
            with_vectors=with_vectors,
        )
        return [_stored(hit, float(hit.score)) for hit in response.points]

    def count(self, filter: PayloadFilter | None = None) -> int:
        return self._client.count(self._spec.name, count_filter=_filter(filter), exact=True).count

    def facet(
        self, key: str, filter: PayloadFilter | None = None, limit: int = 10_000
    ) -> dict[FacetValue, int]:
        response = self._client.facet(
            self._spec.name, key=key, facet_filter=_filter(filter), limit=limit, exact=True
        )
        return {hit.value: hit.count for hit in response.hits}

    def scroll(
        self,
        filter: PayloadFilter | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> ScrollPage:
        records, next_offset = self._client.scroll(
            self._spec.name,
            scroll_filter=_filter(filter),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=with_vectors,
        )
        return ScrollPage(
            points=[_stored(record) for record in records],
            next_offset=None if next_offset is None else str(next_offset),
        )

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[StoredPoint]:
        if not ids:
            return []
        records = self._client.retrieve(
            self._spec.name, ids=list(ids), with_payload=True, with_vectors=with_vectors
        )
        return [_stored(record) for record in records]

    def set_payload(self, ids: Sequence[str], payload: Payload) -> None:
        if ids:
            self._client.set_payload(
                self._spec.name, payload=dict(payload), points=list(ids), wait=True
            )

    def optimize(self) -> None:
        """Nothing to do: the server builds its index in the background."""

    def ensure_indexes(self, indexed: Mapping[str, IndexKind]) -> None:
        existing = self._client.get_collection(self._spec.name).payload_schema or {}
        for key, kind in indexed.items():
            if key not in existing:
                self._client.create_payload_index(
                    self._spec.name, field_name=key, field_schema=_INDEX_KINDS[kind], wait=True
                )


class ServerVectorStore:
    """Collections on a Qdrant server (or in qdrant-client's local mode)."""

    def __init__(self, client: QdrantClient) -> None:
        self._client = client

    @classmethod
    def connect(cls, url: str, api_key: str | None = None) -> ServerVectorStore:
        return cls(QdrantClient(url=url, api_key=api_key))

    def ensure_collection(self, spec: CollectionSpec) -> ServerCollection:
        if self._client.collection_exists(spec.name):
            params = self._client.get_collection(spec.name).config.params.vectors
            if not isinstance(params, qm.VectorParams) or (params.size, params.distance) != (
                spec.dimensions,
                _DISTANCES[spec.distance],
            ):
                raise CollectionMismatchError(
                    f"{spec.name}: exists with {params}, asked for "
                    f"{spec.dimensions}/{spec.distance}"
                )
        else:
            self._client.create_collection(
                spec.name,
                vectors_config=qm.VectorParams(
                    size=spec.dimensions, distance=_DISTANCES[spec.distance]
                ),
            )
        collection = ServerCollection(self._client, spec)
        collection.ensure_indexes(spec.indexed)
        return collection

    def open_collection(self, name: str) -> ServerCollection:
        if not self._client.collection_exists(name):
            raise MissingCollectionError(f"no collection {name} on the Qdrant server")
        params = self._client.get_collection(name).config.params.vectors
        if not isinstance(params, qm.VectorParams):
            raise CollectionMismatchError(f"{name}: named vectors {params}, not one vector")
        distance = next(d for d, server in _DISTANCES.items() if server == params.distance)
        return ServerCollection(self._client, CollectionSpec(name, params.size, distance))

    def collection_exists(self, name: str) -> bool:
        return bool(self._client.collection_exists(name))

    def delete_collection(self, name: str) -> None:
        self._client.delete_collection(name)

    def close(self) -> None:
        self._client.close()
