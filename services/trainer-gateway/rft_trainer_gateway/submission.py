"""Queueing a training job: validate the request, then hand the job to the supervisor. One
function for ``POST /v1/training-jobs`` and a journey's step I (which names the job's id before
it submits, so a gateway restarted in between re-attaches instead of training twice)."""

from __future__ import annotations

import asyncio
import math
import uuid

from rft_runtime.llm.settings import LOCAL_MODEL_NAME
from rft_schemas import RowsSource, TrainingJob, TrainingJobRequest
from rft_trainer_gateway.preparation import grader_name
from rft_trainer_gateway.supervisor import JobSupervisor
from rft_trainer_gateway.validation import CheckedRequest, FieldError, check_request


def new_job_id() -> str:
    return f"ftjob-{uuid.uuid4().hex[:24]}"


def total_steps(request: TrainingJobRequest, train_rows: int) -> int:
    """The worker's count before it reports its own: max_steps, else epochs over the rows."""
    hp = request.hyperparameters
    if hp.max_steps is not None:
        return hp.max_steps
    return max(1, math.ceil(hp.epochs * train_rows / hp.step_prompts))


def new_job(checked: CheckedRequest, job_id: str | None = None
            ) -> tuple[TrainingJob, TrainingJobRequest]:
    """The queued job, and the request as stored: rows inline, as they were validated."""
    request = checked.request
    job = TrainingJob(
        id=job_id or new_job_id(), dataset=request.dataset,
        base_model=request.base_model or LOCAL_MODEL_NAME, backend=request.backend,
        device=request.device, hyperparameters=request.hyperparameters,
        train_rows=len(checked.train), valid_rows=len(checked.valid),
        grader_name=grader_name(request.grader),
        total_steps=total_steps(request, len(checked.train)))
    stored = request.model_copy(update={"train": RowsSource(rows=checked.train),
                                        "valid": RowsSource(rows=checked.valid)})
    return job, stored


async def queue_job(supervisor: JobSupervisor, request: TrainingJobRequest,
                    job_id: str | None = None) -> tuple[TrainingJob | None, list[FieldError]]:
    """Validate everything (rows, grader against the rows' fields, base model, backend), then
    queue the job; ``(None, errors)`` when a field is invalid and nothing was queued."""
    if "backend" not in request.model_fields_set:
        request = request.model_copy(update={"backend": supervisor.settings.trainer_backend})
    checked, errors = await asyncio.to_thread(
        check_request, request, supervisor.settings, list(supervisor.backends))
    if checked is None:
        return None, errors
    job, stored = new_job(checked, job_id)
    return await supervisor.submit(job, stored), []
