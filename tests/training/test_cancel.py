"""Cancel stops the real training process at the next step boundary, keeps the last checkpoint
and ends the job as cancelled; the same job then resumes from that checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rft_schemas import JobStatus, TrainingEventKind, TrainingHyperparameters
from rft_trainer_gateway.backends.local import LocalTrlBackend
from rft_trainer_gateway.checkpoints import latest_checkpoint
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.preparation import job_for_run_dir, resolve_base_model
from tests.training.test_train_cli import run_dir_with_split

pytestmark = pytest.mark.slow


def wait_for(condition, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_cancel_stops_at_a_step_boundary_keeps_a_checkpoint_and_resumes(tmp_path: Path):
    run = run_dir_with_split(tmp_path / "run")
    files = JobFiles(run)
    hp = TrainingHyperparameters(max_steps=30, prompts_per_step=1, samples_per_prompt=2,
                                 max_completion_tokens=4, eval_every_steps=30, eval_prompts=2,
                                 report_to=[])
    job = job_for_run_dir(run, dataset="cancel", hp=hp, base_model=resolve_base_model(None),
                          device="cpu")
    files.write_job(job)
    backend = LocalTrlBackend()
    handle = backend.launch(job, files, resume_from=None)
    log = EventLog(files.events)
    wait_for(lambda: any(e.kind is TrainingEventKind.STEP for e in log.read()), 900,
             "the first step")
    backend.cancel(handle, files)
    final = wait_for(lambda: [e for e in log.read() if e.status.finished], 600,
                     "the final event")[0]
    assert final.status is JobStatus.CANCELLED
    assert 1 <= final.step < 30
    wait_for(lambda: not backend.alive(handle), 60, "the process to exit")
    assert backend.exit_code(handle) == 0
    kept = latest_checkpoint(files.checkpoints)
    assert kept is not None and kept.step == final.step, "the last checkpoint is kept"

    resumed = backend.launch(job, files, resume_from=Path(kept.path))
    started = wait_for(lambda: [e for e in log.read() if e.seq > final.seq
                                and e.kind is TrainingEventKind.STATUS], 900, "the restart")[0]
    assert f"resumed from {kept.name}" in (started.message or "")
    next_step = wait_for(lambda: [e for e in log.read() if e.seq > final.seq
                                  and e.kind is TrainingEventKind.STEP], 900, "a step")[0]
    assert next_step.step == kept.step + 1, "training went on from the checkpoint's step"
    backend.kill(resumed)
