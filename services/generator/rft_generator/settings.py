"""Generator settings: its own fields read ``RFT_GENERATOR_*``, the runtime's ``RFT_*``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from rft_runtime.settings import RuntimeSettings


class GeneratorSettings(RuntimeSettings):
    service_env_prefix: ClassVar[str] = "RFT_GENERATOR_"

    job_store_url: str | None = Field(
        default=None,
        description="sqlite:///path (default data_dir/generator/jobs.sqlite), or postgresql://... "
        "so jobs outlive a pod and any replica resumes them",
    )
    output_dir: Path | None = Field(
        default=None, description="synthetic_prompts.jsonl per job; unset = data_dir/generator"
    )
    categorizer_url: str | None = Field(
        default=None,
        description="the categorizer service (http://categorizer.rft.svc:8000): a job reads its "
        "dataset's categorized records and coverage from its API; unset = the files of steps C "
        "and D under data_dir/<dataset>/ (one machine)",
    )
    categorizer_timeout_s: float = Field(default=30.0, gt=0, description="per API call")
    embedder_url: str | None = Field(
        default=None,
        description="the embedder service (http://embedder.rft.svc:8000): the vectors of "
        "examples, candidates and the split's leakage guard come from its POST /v1/embed, keyed "
        "by its model's name; the service does not start without it unless its caller passes "
        "an embedder (the rft CLI's in-process model)",
    )
    embedder_timeout_s: float = Field(default=30.0, gt=0, description="per embedder call")
    categorized_path: Path | None = Field(
        default=None,
        description="without categorizer_url: the categorized_prompts.jsonl the service takes "
        "examples from; unset = data_dir/<dataset>/categorized_prompts.jsonl",
    )
    copy_cosine: float = Field(
        default=0.97, ge=0.0, le=1.0, description="a candidate this close to an example is a copy"
    )
    mmr_lambda: float = Field(
        default=0.5, ge=0.0, le=1.0, description="relevance vs diversity of the few-shot examples"
    )
    prototype_temperature: float = Field(
        default=0.05, gt=0.0, description="softmax temperature of the nearest-prototype check"
    )
    max_request_chars: int = Field(
        default=600, ge=20, description="a longer user turn is wrong_shape"
    )
    previews_per_topic: int = Field(default=3, ge=0)
    max_new_per_topic: int | None = Field(
        default=None,
        ge=1,
        description="caps coverage's recommendation per topic (a budget for CPU-only runs)",
    )
    tokenizer: str = Field(default="smollm2-135m-instruct", description="as the sanitizer's")
    min_tokens: int = Field(default=4, ge=0, description="structure check: shorter is too_short")
    max_tokens: int = Field(default=8192, ge=1, description="structure check: longer is too_long")

    def resolved_output_dir(self) -> Path:
        return self.output_dir or self.data_dir / "generator"

    def resolved_job_store_url(self) -> str:
        return self.job_store_url or f"sqlite:///{self.data_dir / 'generator' / 'jobs.sqlite'}"
