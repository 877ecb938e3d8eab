"""Deterministic point ids and collection names, shared by every writer and reader."""

from __future__ import annotations

import hashlib
import re
import uuid

# A fixed namespace: the same prompt id maps to the same point id in every process and release,
# so re-processing a record overwrites its point instead of adding a second one.
POINT_NAMESPACE = uuid.UUID("5f1d3c0e-8a4b-5c7d-9e2f-1a3b5c7d9e0f")

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def point_id(record_id: str) -> str:
    """The Qdrant point id (a UUIDv5 string) of a record id such as a prompt id."""
    return str(uuid.uuid5(POINT_NAMESPACE, record_id))


def collection_name(prefix: str, dataset: str) -> str:
    """A collection name that is also a safe directory name (Edge keeps one per directory).

    Dataset ids with other characters get a short hash suffix so that two datasets that differ
    only in those characters do not share a collection.
    """
    safe = _UNSAFE.sub("_", dataset)
    if safe != dataset:
        safe = f"{safe}-{hashlib.sha256(dataset.encode()).hexdigest()[:8]}"
    return f"{prefix}__{safe}"
