"""Dry-run settings (``RFT_DRYRUN_*``, and the judge model) on top of the grader's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from rft_grader.settings import GraderSettings
from rft_runtime.llm import LLMSettings


@dataclass(frozen=True)
class DryRunSize:
    """N, the answer length and the rollouts in flight, with where each came from."""

    prompts: int
    max_tokens: int
    concurrency: int
    local: bool  # sized for the local model on the CPU
    from_backend: tuple[str, ...]  # the fields that took the backend's default

    def describe(self) -> str:
        where = "the local model on the CPU" if self.local else "a served endpoint"
        line = (f"{self.prompts} prompts, answers of up to {self.max_tokens} tokens, "
                f"{self.concurrency} at a time")
        if not self.from_backend:
            return line
        hint = (f" (RFT_DRYRUN_PROMPTS, or an endpoint in RFT_LLM_BASE_URL, for the seed's "
                f"{SERVED_SIZE[0]})" if self.local and "prompts" in self.from_backend else "")
        return f"{line}: sized for {where}{hint}"


# (prompts, max_tokens, concurrency). Served: the seed's N and a full answer. Local: the 135M
# model on 2 CPU cores decodes a few tokens a second per sequence and the traces' prompts run
# to ~1,200 tokens; the 200-prompt run did not finish in 15 minutes there, 8 x 2 rollouts of
# 32 tokens do in a few (the demo's measured size).
SERVED_SIZE = (200, 256, 32)
LOCAL_SIZE = (8, 32, 8)


class DryRunSettings(GraderSettings):
    dryrun_prompts: int | None = Field(
        default=None, ge=1, description="N (the seed recommends 200-500); unset = by backend: "
        "200 on an endpoint, 8 on the local CPU model",
    )
    dryrun_samples_per_prompt: int = Field(
        default=2, ge=1, description="k: GRPO needs at least 2 samples of a prompt to compare"
    )
    dryrun_max_tokens: int | None = Field(
        default=None, ge=1, description="per rollout; unset = by backend: 256, or 32 locally"
    )
    dryrun_temperature: float = Field(
        default=1.0, ge=0, le=2, description="the sampling temperature RFT rollouts use"
    )
    dryrun_seed: int = Field(default=0, description="prompt sampling and rollout seeds")
    dryrun_tool_choice: Literal["auto", "required"] = Field(
        default="auto", description="tool_choice of rollouts that offer tools: the base model is "
        "scored as it will be trained and served ('required' when the agent always calls a tool)",
    )
    dryrun_concurrency: int | None = Field(
        default=None, ge=1, description="rollouts in flight: the server batches what it is "
        "given; unset = by backend: 32, or 8 locally",
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

    def size(self, llm: LLMSettings) -> DryRunSize:
        """The run's size: what is set, else the default of the backend ``llm`` calls."""
        prompts, max_tokens, concurrency = LOCAL_SIZE if llm.runs_local_model else SERVED_SIZE
        unset = {"prompts": self.dryrun_prompts, "max_tokens": self.dryrun_max_tokens,
                 "concurrency": self.dryrun_concurrency}
        return DryRunSize(  # every field is >= 1 when set: `or` falls back only when unset
            prompts=self.dryrun_prompts or prompts,
            max_tokens=self.dryrun_max_tokens or max_tokens,
            concurrency=self.dryrun_concurrency or concurrency,
            local=llm.runs_local_model,
            from_backend=tuple(name for name, value in unset.items() if value is None),
        )

    def sized(self, llm: LLMSettings) -> DryRunSettings:
        """A copy with every size set (see :meth:`size`)."""
        size = self.size(llm)
        return self.model_copy(update={"dryrun_prompts": size.prompts,
                                       "dryrun_max_tokens": size.max_tokens,
                                       "dryrun_concurrency": size.concurrency})

    def resolved_dryrun_job_store(self) -> str:
        return self.dryrun_job_store or str(self.data_dir / "grader" / "jobs.sqlite")
