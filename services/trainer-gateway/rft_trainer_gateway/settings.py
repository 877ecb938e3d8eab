"""The trainer gateway's settings (``RFT_TRAINER_*`` on top of the runtime's ``RFT_*``)."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field

from rft_runtime.settings import RuntimeSettings
from rft_schemas import TrainingBackendName


class TrainerSettings(RuntimeSettings):
    trainer_job_store: str | None = Field(
        default=None,
        description="training jobs and their events: a SQLite path, or a postgresql:// URL so "
                    "every replica serves every job's events; unset = data_dir/trainer/jobs.sqlite",
    )
    trainer_jobs_dir: Path | None = Field(
        default=None, description="one directory per job (its files); unset = data_dir/trainer/jobs"
    )
    trainer_backend: TrainingBackendName = Field(
        default=TrainingBackendName.TRL, description="the backend of a request that names none"
    )
    trainer_backends: list[TrainingBackendName] = Field(
        default_factory=lambda: [TrainingBackendName.TRL],
        description="the backends this gateway runs (kubernetes needs the cluster's API)",
    )
    trainer_concurrency: int = Field(
        default=1, ge=1, description="jobs training at once on this gateway (one CPU or GPU)"
    )
    trainer_resume_attempts: int = Field(
        default=2, ge=0,
        description="times a job whose training process died is resumed from its last "
                    "checkpoint before it fails",
    )
    trainer_cancel_grace_s: float = Field(
        default=120.0, gt=0,
        description="a cancelled job stops at its next step boundary; past this it is killed",
    )
    trainer_poll_interval_s: float = Field(
        default=1.0, gt=0, description="how often the event logs and processes are checked"
    )
    trainer_worker_module: str = Field(
        default="rft_trainer_gateway.worker",
        description="the training entrypoint the local backend runs with `python -m`",
    )
    trainer_replica_id: str = Field(
        default_factory=socket.gethostname,
        description="this gateway among replicas sharing one store: a restart re-attaches only "
                    "the jobs it ran (keep it stable across restarts, e.g. a StatefulSet name)",
    )
    trainer_publish_events: bool = Field(
        default=True,
        description="publish every stored event to rft.training.events.v1 when "
                    "RFT_KAFKA_BOOTSTRAP is set",
    )

    trainer_generator_url: str | None = Field(
        default=None,
        description="the generator service (http://generator.rft.svc:8000): a journey's step F "
                    "(POST /v1/datasets/{dataset}/split); unset = journeys refused",
    )
    trainer_grader_url: str | None = Field(
        default=None,
        description="the grader service (http://grader.rft.svc:8000): a journey's steps G "
                    "(preset or validation) and H (dry run); unset = journeys refused",
    )
    trainer_service_timeout_s: float = Field(
        default=120.0, gt=0, description="per call of a journey to another service (a split "
                                         "embeds the dataset's prompts)")
    trainer_journey_poll_s: float = Field(
        default=2.0, gt=0, description="how often a journey checks its dry run or training job")

    def resolved_job_store(self) -> str:
        return self.trainer_job_store or str(self.data_dir / "trainer" / "jobs.sqlite")

    def resolved_jobs_dir(self) -> Path:
        return self.trainer_jobs_dir or self.data_dir / "trainer" / "jobs"
