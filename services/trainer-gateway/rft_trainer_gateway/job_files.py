"""The files of one training job, named once.

A job lives in one directory: the gateway's ``<data_dir>/training/<job id>`` or, for `rft train`,
the run directory itself, so the names are the seed's artifact names. The training process
reads the inputs and appends to the events file; the gateway and the CLI only read what it
writes, which is what lets a restarted gateway re-attach to a process it did not start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rft_schemas import TrainingJob


@dataclass(frozen=True)
class JobFiles:
    root: Path

    @property
    def job(self) -> Path:
        return self.root / "training_job.json"

    @property
    def train(self) -> Path:
        return self.root / "rft_prompts.train.jsonl"

    @property
    def valid(self) -> Path:
        return self.root / "rft_prompts.valid.jsonl"

    @property
    def grader(self) -> Path:
        return self.root / "grader_config.json"

    @property
    def events(self) -> Path:
        return self.root / "training_events.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    @property
    def reward_curves(self) -> Path:
        return self.root / "reward_curves.png"

    @property
    def comparison(self) -> Path:
        return self.root / "comparison.png"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def worker_log(self) -> Path:
        return self.root / "training.log"

    @property
    def cancel_flag(self) -> Path:
        """Written by whoever asks to cancel: the worker also polls it, so a cancel reaches a
        process this gateway cannot signal (another replica's, or a pod)."""
        return self.root / "cancel.requested"

    @property
    def deploys(self) -> Path:
        return self.root / "deploys.jsonl"

    @property
    def export(self) -> Path:
        return self.root / "export"

    def read_job(self) -> TrainingJob:
        return TrainingJob.model_validate_json(self.job.read_text())

    def write_job(self, job: TrainingJob) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.job.with_suffix(".tmp")
        staging.write_text(job.model_dump_json(indent=2))
        staging.replace(self.job)

    def write_rows(self, path: Path, rows: list[dict[str, Any]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
