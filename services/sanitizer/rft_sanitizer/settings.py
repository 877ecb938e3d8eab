"""The sanitizer's settings: environment variables with the ``RFT_SANITIZER_`` prefix."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rft_runtime.llm.settings import default_cache_dir


class ExtractionPolicy(StrEnum):
    """How prompts are cut from a conversation (every RFT prompt ends on a user turn)."""

    LAST_MEANINGFUL_USER = "last_meaningful_user"
    PER_USER_TURN = "per_user_turn"
    STRICT = "strict"


class RedactionMode(StrEnum):
    REDACT = "redact"
    OFF = "off"
    REJECT = "reject"


class SanitizerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RFT_SANITIZER_", extra="ignore")

    dataset: str = Field(default="default", description="dataset id written into every record")
    data_dir: Path = Field(default=Path(".rft"), description="stores and caches live here")
    policy: ExtractionPolicy = ExtractionPolicy.LAST_MEANINGFUL_USER
    min_tokens: int = Field(default=8, ge=0, description="shorter prompts are too_short")
    max_tokens: int = Field(default=8192, ge=1, description="longer prompts are too_long")
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
