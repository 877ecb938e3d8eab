"""The sanitizer's settings: its own fields read ``RFT_SANITIZER_*``, the runtime's ``RFT_*``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from rft_runtime.llm.settings import default_cache_dir
from rft_runtime.settings import RuntimeSettings
from rft_schemas.training import TrainingHyperparameters

# The bound used when nothing says what the trained model's context is (SmolLM2's context).
DEFAULT_MAX_TOKENS = 8192
# What the trainer generates per completion unless told otherwise.
_COMPLETION_BUDGET = int(TrainingHyperparameters.model_fields["max_completion_tokens"].default)


class ExtractionPolicy(StrEnum):
    """How prompts are cut from a conversation (every RFT prompt ends on a user turn)."""

    LAST_MEANINGFUL_USER = "last_meaningful_user"
    PER_USER_TURN = "per_user_turn"
    STRICT = "strict"


class RedactionMode(StrEnum):
    REDACT = "redact"
    OFF = "off"
    REJECT = "reject"


class SanitizerSettings(RuntimeSettings):
    service_env_prefix: ClassVar[str] = "RFT_SANITIZER_"

    dataset: str = Field(default="default", description="dataset id written into every record")
    policy: ExtractionPolicy = ExtractionPolicy.LAST_MEANINGFUL_USER
    min_tokens: int = Field(default=8, ge=0, description="shorter prompts are too_short")
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        description="longer prompts are too_long; unset = the trained model's context window "
        "minus completion_budget (see context_window)",
    )
    context_window: int | None = Field(
        default=None,
        ge=1,
        description="the trained model's context in tokens, for a model served by an endpoint; "
        "unset = the local model's config (max_position_embeddings)",
    )
    completion_budget: int = Field(
        default=_COMPLETION_BUDGET,
        ge=0,
        description="tokens of the context kept for the completion (the trainer's "
        "max_completion_tokens)",
    )
    closing_test: Literal["auto", "embedding", "phrases"] = Field(
        default="auto",
        description="which user turns only close a conversation: 'embedding' (the phrase list, "
        "then similarity to closing exemplars with the embedder's ONNX export of "
        "all-MiniLM-L6-v2), 'phrases' (the phrase list alone, no model), 'auto' (embedding "
        "when the export and onnxruntime are on this machine, else phrases; the report names "
        "the one applied); see benchmarks/closing_turns.py for their precision and recall",
    )
    closing_model_dir: Path | None = Field(
        default=None,
        description="the ONNX export (model.onnx, tokenizer.json, meta.json) for the closing "
        "test; unset = the embedder's all-MiniLM-L6-v2 export in its cache",
    )
    count_all_tokens: bool = Field(
        default=False,
        description="tokenize every prompt, not only where byte-length bounds leave it open",
    )
    redaction: RedactionMode = RedactionMode.REDACT
    tokenizer: str = Field(
        default="smollm2-135m-instruct",
        description="'smollm2-135m-instruct' (the local default model, offline from its GGUF), "
        "a Hugging Face tokenizer name available offline, or a path to a tokenizer.json",
    )
    dedup_store: str | None = Field(
        default=None,
        description="kept prompt ids: a SQLite path, or a postgresql:// URL that every replica "
        "shares; unset = data_dir/sanitizer/dedup.sqlite",
    )
    outcome_store: str | None = Field(
        default=None,
        description="what happened to each trace (the report and the rejected view of the "
        "service): a SQLite path, or a postgresql:// URL every replica shares; unset = "
        "data_dir/sanitizer/outcomes.sqlite",
    )
    max_record_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="a longer record is too_large, unread"
    )
    excerpt_chars: int = Field(default=300, ge=0, description="record excerpt kept in a rejection")
    batch_size: int = Field(default=512, ge=1, description="records per dedup-store transaction")
    upload_max_age_s: float = Field(
        default=7 * 24 * 3600, ge=0,
        description="HTTP uploads older than this are deleted at the next upload; 0 = no limit",
    )
    upload_max_per_dataset: int = Field(
        default=20, ge=0,
        description="HTTP uploads kept per dataset (the newest); 0 = no limit",
    )
    tokenizer_cache: Path | None = Field(
        default=None,
        description="tokenizer.json files built from model files; unset = "
        "$XDG_CACHE_HOME/rft/tokenizers, else ~/.cache/rft/tokenizers",
    )

    def resolved_dedup_store(self) -> str | Path:
        return self.dedup_store or self.data_dir / "sanitizer" / "dedup.sqlite"

    def resolved_outcome_store(self) -> str | Path:
        return self.outcome_store or self.data_dir / "sanitizer" / "outcomes.sqlite"

    def tokenizer_cache_dir(self) -> Path:
        # Built once from an installed model file, not user state: shared by every data dir
        # (like the LLM checkpoint and the ONNX export).
        return self.tokenizer_cache or default_cache_dir("tokenizers")
