"""Dry-run settings (``RFT_DRYRUN_*``, and the judge model) on top of the grader's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rft_grader.settings import GraderSettings


class DryRunSettings(GraderSettings):
    dryrun_prompts: int = Field(default=200, ge=1, description="N, the seed recommends 200-500")
    dryrun_samples_per_prompt: int = Field(
        default=2, ge=1, description="k: GRPO needs at least 2 samples of a prompt to compare"
    )
    dryrun_max_tokens: int = Field(default=256, ge=1, description="per rollout")
    dryrun_temperature: float = Field(
        default=1.0, ge=0, le=2, description="the sampling temperature RFT rollouts use"
    )
    dryrun_seed: int = Field(default=0, description="prompt sampling and rollout seeds")
    dryrun_tool_choice: Literal["auto", "required"] = Field(
        default="auto", description="tool_choice of rollouts that offer tools: the base model is "
        "scored as it will be trained and served ('required' when the agent always calls a tool)",
    )
    dryrun_concurrency: int = Field(
        default=32, ge=1, description="rollouts in flight: the server batches what it is given"
    )
    dryrun_histogram_bins: int = Field(default=20, ge=2)
    dryrun_job_store: str | None = Field(
        default=None,
        description="dry-run jobs: a SQLite path, or a postgresql:// URL so a job outlives its "
        "pod; unset = data_dir/grader/jobs.sqlite",
    )
    dryrun_max_flat_share: float = Field(
        default=0.8, ge=0, le=1,
        description="NO-GO when more prompts than this scored the same on every sample",
    )
    dryrun_max_error_share: float = Field(
        default=0.2, ge=0, le=1, description="NO-GO when more samples than this are grader errors"
    )
    grader_judge_model: str | None = Field(
        default=None, description="judge every model grader with this model (e.g. one served "
                                  "locally); unset = the config's model",
    )
    grader_judge_max_tokens: int | None = Field(
        default=64, ge=1, description="cap on a judge's answer when its config sets none: the "
                                      "answer is one small JSON object (raise for reasoning "
                                      "judges)",
    )

    def resolved_dryrun_job_store(self) -> str:
        return self.dryrun_job_store or str(self.data_dir / "grader" / "jobs.sqlite")
