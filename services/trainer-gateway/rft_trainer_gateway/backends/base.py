"""What a training backend does for the gateway and the CLI.

A backend starts the training entrypoint (:mod:`rft_trainer_gateway.worker`) for a job whose
directory is prepared (:class:`JobFiles`), tells whether it still runs, and asks it to stop.
It does not report progress itself: the entrypoint writes :class:`TrainingEvent`s (to the job's
event log, and to ``rft.training.events.v1`` where a broker is configured), the same for every
backend. A third backend (verl on KubeRay, docs/training.md) plugs in here the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from rft_schemas import TrainingBackendName, TrainingJob
from rft_trainer_gateway.job_files import JobFiles


class RunHandle(BaseModel):
    """Enough to find a running training again after a gateway restart (stored with the job)."""

    backend: TrainingBackendName
    pid: int | None = Field(default=None, description="the local training process")
    process_start: float | None = Field(
        default=None, description="the process's start time: a reused pid is not our process"
    )
    resource: str | None = Field(default=None, description="a Kubernetes Job/TrainJob name")
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class TrainingBackend(Protocol):
    name: TrainingBackendName

    def launch(self, job: TrainingJob, files: JobFiles, resume_from: Path | None) -> RunHandle:
        """Start training; ``resume_from`` is a checkpoint directory to go on from."""
        ...

    def alive(self, handle: RunHandle) -> bool: ...

    def cancel(self, handle: RunHandle, files: JobFiles) -> None:
        """Ask for a stop at the next step boundary (the last checkpoint is kept)."""
        ...

    def kill(self, handle: RunHandle) -> None:
        """Stop now (used when a cancel is not heeded in time)."""
        ...
