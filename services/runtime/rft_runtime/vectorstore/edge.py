"""Qdrant Edge adapter: the Qdrant engine in-process, one shard directory per collection.

Edge holds a lock on a shard's write-ahead log, so a shard opens once per process: stores on the
same root share the open shards (counted, closed with the last store that used them).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import qdrant_edge as qe

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
    Distance.COSINE: qe.Distance.Cosine,
    Distance.DOT: qe.Distance.Dot,
    Distance.EUCLID: qe.Distance.Euclid,
}
_CONFIG_FILE = "edge_config.json"
_STORED_DISTANCES = {"Cosine": Distance.COSINE, "Dot": Distance.DOT, "Euclid": Distance.EUCLID}
"""How the shard's config file spells each distance."""
_INDEX_KINDS = {
    IndexKind.KEYWORD: qe.PayloadSchemaType.Keyword,
    IndexKind.INTEGER: qe.PayloadSchemaType.Integer,
    IndexKind.FLOAT: qe.PayloadSchemaType.Float,
    IndexKind.BOOL: qe.PayloadSchemaType.Bool,
}


class _OpenShards:
    """Process-wide registry of open shards by directory, with use counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shards: dict[Path, tuple[qe.EdgeShard, tuple[int, Distance], int]] = {}

    def acquire(self, path: Path, spec: CollectionSpec) -> qe.EdgeShard:
        shape = (spec.dimensions, spec.distance)
        with self._lock:
            if path in self._shards:
                shard, open_shape, uses = self._shards[path]
                if open_shape != shape:
                    raise CollectionMismatchError(
                        f"{path}: open as {open_shape}, asked for {shape}"
                    )
                self._shards[path] = (shard, shape, uses + 1)
                return shard
            config = qe.EdgeConfig(
                vectors=qe.EdgeVectorParams(
                    size=spec.dimensions, distance=_DISTANCES[spec.distance]
                )
            )
            try:
                if (path / _CONFIG_FILE).exists():
                    # load() with a config checks it against the stored segments.
                    shard = qe.EdgeShard.load(str(path), config)
                else:
                    shard = qe.EdgeShard.create(str(path), config)
            except Exception as error:
                if "incompatible" in str(error).lower():
                    raise CollectionMismatchError(f"{path}: {error}") from error
                raise
            self._shards[path] = (shard, shape, 1)
            return shard

    def release(self, path: Path) -> None:
        with self._lock:
            if path not in self._shards:
                return
            shard, shape, uses = self._shards[path]
            if uses > 1:
                self._shards[path] = (shard, shape, uses - 1)
                return
            del self._shards[path]
            shard.flush()
            shard.close()


_SHARDS = _OpenShards()


def _filter(payload_filter: PayloadFilter | None) -> qe.Filter | None:
    if not payload_filter:
        return None
    must: list[Any] = []
    for key, value in payload_filter.items():
        if value is None:
            must.append(qe.IsEmptyCondition(key))
        elif isinstance(value, str | int | bool):
            must.append(qe.FieldCondition(key, match=qe.MatchValue(value)))
        else:
            values = cast("list[str] | list[int]", list(value))
            must.append(qe.FieldCondition(key, match=qe.MatchAny(values)))
    return qe.Filter(must=must)


def _as_list(vector: Vector) -> list[float]:
    if isinstance(vector, np.ndarray):
        return [float(x) for x in vector.astype(np.float32).tolist()]
    return [float(x) for x in vector]


def _stored(point: Any, score: float | None = None) -> StoredPoint:
    vector = point.vector
    return StoredPoint(
        id=str(point.id),
        payload=dict(point.payload or {}),
        vector=list(vector) if isinstance(vector, list) else None,
        score=score,
    )


class EdgeCollection:
    def __init__(self, shard: qe.EdgeShard, spec: CollectionSpec) -> None:
        self._shard = shard
        self._spec = spec

    @property
    def spec(self) -> CollectionSpec:
        return self._spec

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        self._shard.update(
            qe.UpdateOperation.upsert_points(
                [qe.Point(p.id, _as_list(p.vector), dict(p.payload)) for p in points]
            )
        )

    def query(
        self,
        vector: Vector,
        limit: int = 10,
        filter: PayloadFilter | None = None,
        with_vectors: bool = False,
    ) -> list[StoredPoint]:
        hits = self._shard.query(
            qe.QueryRequest(
                limit=limit,
                query=qe.Query.Nearest(_as_list(vector)),
                filter=_filter(filter),
                with_payload=True,
                with_vector=with_vectors,
            )
        )
        return [_stored(hit, float(hit.score)) for hit in hits]

    def count(self, filter: PayloadFilter | None = None) -> int:
        return int(self._shard.count(qe.CountRequest(exact=True, filter=_filter(filter))))

    def facet(
        self, key: str, filter: PayloadFilter | None = None, limit: int = 10_000
    ) -> dict[FacetValue, int]:
        response = self._shard.facet(
            qe.FacetRequest(key, limit=limit, exact=True, filter=_filter(filter))
        )
        return {hit.value: int(hit.count) for hit in response.hits}

    def scroll(
        self,
        filter: PayloadFilter | None = None,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> ScrollPage:
        records, next_offset = self._shard.scroll(
            qe.ScrollRequest(
                offset=offset,
                limit=limit,
                filter=_filter(filter),
                with_payload=True,
                with_vector=with_vectors,
            )
        )
        return ScrollPage(
            points=[_stored(record) for record in records],
            next_offset=None if next_offset is None else str(next_offset),
        )

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[StoredPoint]:
        if not ids:
            return []
        records = self._shard.retrieve(list(ids), with_payload=True, with_vector=with_vectors)
        return [_stored(record) for record in records]

    def set_payload(self, ids: Sequence[str], payload: Payload) -> None:
        if ids:
            self._shard.update(qe.UpdateOperation.set_payload(list(ids), dict(payload)))

    def optimize(self) -> None:
        self._shard.optimize()

    def ensure_indexes(self, indexed: Mapping[str, IndexKind]) -> None:
        existing = self._shard.info().payload_schema
        for key, kind in indexed.items():
            if key not in existing:
                self._shard.update(qe.UpdateOperation.create_field_index(key, _INDEX_KINDS[kind]))


class EdgeVectorStore:
    """Collections as shard directories under ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root).resolve()
        self._open: dict[str, tuple[Path, EdgeCollection]] = {}

    def _path(self, name: str) -> Path:
        return self._root / name

    def ensure_collection(self, spec: CollectionSpec) -> EdgeCollection:
        if spec.name in self._open:
            collection = self._open[spec.name][1]
            if (collection.spec.dimensions, collection.spec.distance) != (
                spec.dimensions,
                spec.distance,
            ):
                raise CollectionMismatchError(
                    f"{spec.name}: open with {collection.spec.dimensions}/"
                    f"{collection.spec.distance}, asked for {spec.dimensions}/{spec.distance}"
                )
        else:
            path = self._path(spec.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            shard = _SHARDS.acquire(path, spec)
            self._open[spec.name] = (path, EdgeCollection(shard, spec))
        collection = self._open[spec.name][1]
        collection.ensure_indexes(spec.indexed)
        return collection

    def open_collection(self, name: str) -> EdgeCollection:
        if name in self._open:
            return self._open[name][1]
        config = self._path(name) / _CONFIG_FILE
        if not config.exists():
            raise MissingCollectionError(f"no collection {name} under {self._root}")
        # The shard's own config file says how it was created ("" is the unnamed vector).
        vectors = json.loads(config.read_text())["vectors"][""]
        distance = _STORED_DISTANCES[vectors["distance"]]
        return self.ensure_collection(CollectionSpec(name, int(vectors["size"]), distance))

    def collection_exists(self, name: str) -> bool:
        return name in self._open or (self._path(name) / _CONFIG_FILE).exists()

    def delete_collection(self, name: str) -> None:
        if name in self._open:
            path, _ = self._open.pop(name)
            _SHARDS.release(path)
        shutil.rmtree(self._path(name), ignore_errors=True)

    def close(self) -> None:
        for path, _ in self._open.values():
            _SHARDS.release(path)
        self._open.clear()
