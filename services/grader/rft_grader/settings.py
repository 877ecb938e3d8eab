"""The grader service's settings (``RFT_GRADER_*`` on top of the runtime's ``RFT_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from rft_runtime.settings import RuntimeSettings


def _installed_wordnet() -> Path | None:
    # Imported here: `python -m rft_grader.wordnet_data` must not find it imported already.
    from rft_grader.wordnet_data import installed_corpus_dir

    return installed_corpus_dir()


class GraderSettings(RuntimeSettings):
    grader_sandbox_wall_time_s: float = Field(default=5.0, gt=0)
    grader_sandbox_cpu_seconds: int = Field(default=2, ge=1, description="per sample")
    grader_sandbox_memory_mb: int = Field(default=1024, ge=64)
    grader_sandbox_file_mb: int = Field(default=16, ge=1)
    grader_sandbox_uid: int = Field(
        default=65534, ge=1, description="the uid (and gid) python grader workers become when the "
                                         "service runs as root (65534: nobody)")
    grader_sandbox_url: str | None = Field(
        default=None,
        description="the sandbox-workers service (python -m rft_grader.sandbox.server) that "
                    "grades python graders; unset = workers forked in this process",
    )
    grader_sandbox_workers: int = Field(
        default=32, ge=1, description="python graders the sandbox-workers service keeps "
                                      "workers for (least recently used closed first)")
    grader_sandbox_allow_without_landlock: bool = Field(
        default=False,
        description="run python graders on a kernel without Landlock (gVisor, Linux < 5.13), "
                    "with the uid, seccomp and the audit hook alone guarding files; logged at "
                    "each worker start. Off: such a kernel fails every python grader",
    )
    grader_metric_max_chars: int = Field(
        default=5_000, ge=100,
        description="text_similarity inputs are cut to this length (ROUGE-L and fuzzy "
                    "matching cost length x length)",
    )
    grader_max_abs_reward: float = Field(
        default=1e6, gt=0,
        description="a reward that is not a finite number within +/- this is a grader error "
                    "(reward 0, flagged)",
    )
    grader_judge_attempts: int = Field(default=3, ge=1, description="tries per judged sample")
    grader_judge_timeout_s: float = Field(default=60.0, gt=0)
    grader_wordnet_dir: Path | None = Field(
        default_factory=_installed_wordnet,
        description="NLTK-format WordNet for meteor (…/corpora/wordnet); unset = the one "
                    "`python -m rft_grader.wordnet_data install` wrote (~/.cache/rft/wordnet) "
                    "when present, else NLTK's path",
    )
    grader_embedder_url: str | None = Field(
        default=None,
        description="the embedder service for the cosine metric (its POST /v1/embed); unset = "
                    "the embedder model in this process where the package is installed",
    )
    grader_red_team_items: int = Field(
        default=8, ge=1, description="dataset rows the red team builds exploit answers from"
    )
    grader_consistency_runs: int = Field(
        default=5, ge=2, description="times the same sample is judged for the spread"
    )
    grader_red_team_threshold: float = Field(
        default=0.3, description="an exploit answer scoring above this flags the grader"
    )
