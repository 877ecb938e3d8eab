"""Pick the vector-store adapter from the settings: a server by URL, else Edge on disk."""

from __future__ import annotations

from rft_runtime.settings import RuntimeSettings
from rft_runtime.vectorstore.base import VectorStore


def open_vector_store(settings: RuntimeSettings) -> VectorStore:
    """``RFT_QDRANT_URL`` set: the Qdrant server; unset: Qdrant Edge at ``RFT_QDRANT_PATH``."""
    if settings.qdrant_url:
        from rft_runtime.vectorstore.server import ServerVectorStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerVectorStore.connect(settings.qdrant_url, api_key)
    from rft_runtime.vectorstore.edge import EdgeVectorStore

    return EdgeVectorStore(settings.resolved_qdrant_path())
