"""The vector store: one interface, two adapters (Qdrant Edge in-process, a Qdrant server).

Needs the ``vectorstore`` extra: ``pip install 'rft-runtime[vectorstore]'``. The adapters import
their clients lazily, so this package imports without them.
"""

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
    VectorCollection,
    VectorPoint,
    VectorStore,
)
from rft_runtime.vectorstore.factory import open_vector_store
from rft_runtime.vectorstore.ids import collection_name, point_id

__all__ = [
    "CollectionMismatchError", "CollectionSpec", "Distance", "FacetValue", "IndexKind",
    "MissingCollectionError", "Payload",
    "PayloadFilter", "ScrollPage", "StoredPoint", "Vector", "VectorCollection", "VectorPoint",
    "VectorStore", "collection_name", "open_vector_store", "point_id",
]
