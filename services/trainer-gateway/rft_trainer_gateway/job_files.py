"""The files of one training job, named once.

A job lives in one directory: the gateway's ``<data_dir>/training/<job id>`` or, for `rft train`,
the run directory itself, so the names are the journey's artifact names (from
:mod:`rft_schemas.artifacts`; the worker's log, TensorBoard and cancel flag are the job's own).
The training process reads the inputs and appends to the events file; the gateway and the CLI
only read what it writes, which is what lets a restarted gateway re-attach to a process it did
not start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rft_schemas import TrainingJob
from rft_schemas.artifacts import (
    CHECKPOINTS,
    COMPARISON_CHART,
    DEPLOYS,
    EXPORT,
    GRADER_CONFIG,
    RESULTS,
    REWARD_CURVES,
    TRAIN_SPLIT,
    TRAINING_EVENTS,
    TRAINING_JOB,
    VALID_SPLIT,
)


@dataclass(frozen=True)
class JobFiles:
    root: Path

    @property
    def job(self) -> Path:
        return TRAINING_JOB.path(self.root)

    @property
    def train(self) -> Path:
        return TRAIN_SPLIT.path(self.root)

    @property
    def valid(self) -> Path:
        return VALID_SPLIT.path(self.root)

    @property
    def grader(self) -> Path:
        return GRADER_CONFIG.path(self.root)

    @property
    def events(self) -> Path:
        return TRAINING_EVENTS.path(self.root)

    @property
    def checkpoints(self) -> Path:
        return CHECKPOINTS.path(self.root)

    @property
    def results(self) -> Path:
        return RESULTS.path(self.root)

    @property
    def reward_curves(self) -> Path:
        return REWARD_CURVES.path(self.root)

    @property
    def comparison(self) -> Path:
        return COMPARISON_CHART.path(self.root)

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
        return DEPLOYS.path(self.root)

    @property
    def export(self) -> Path:
        return EXPORT.path(self.root)

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
