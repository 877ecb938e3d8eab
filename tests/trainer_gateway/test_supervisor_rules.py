"""The rules one job's training follows (JobRun, shared by the service and `rft train`), with
a stand-in training process that writes the real worker's files: crash, resume, give up,
cancel, kill after the grace period."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rft_schemas import JobStatus, TrainingEvent, TrainingEventKind
from rft_trainer_gateway.backends.local import LocalTrlBackend
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.supervisor import JobRun, run_in_foreground
from tests.trainer_gateway.conftest import job

STANDIN = "tests.trainer_gateway.standin_worker"


def backend(step_s: float = 0.3, **env: str) -> LocalTrlBackend:
    return LocalTrlBackend(module=STANDIN, extra_env={"STANDIN_STEP_S": str(step_s), **env})


def drive(run: JobRun, seen: list[TrainingEvent],
          until: Callable[[TrainingEvent], bool] | None = None, timeout_s: float = 60) -> None:
    """Poll as the supervisor does until ``until`` holds for an event (or the job ends)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for event in run.poll():
            seen.append(event)
            if until is not None and until(event):
                return
        if run.finished:
            return
        time.sleep(0.05)
    raise TimeoutError(f"job still {run.job.status} at step {run.job.step}")


def checkpoint_saved(step: int) -> Callable[[TrainingEvent], bool]:
    return lambda e: e.kind is TrainingEventKind.CHECKPOINT and e.step == step


def kill(run: JobRun) -> None:
    assert run.handle is not None and run.handle.pid is not None
    os.kill(run.handle.pid, signal.SIGKILL)


def messages(events: list[TrainingEvent]) -> list[str]:
    return [e.message or "" for e in events if e.kind is TrainingEventKind.STATUS]


def test_a_job_in_the_foreground_runs_to_its_results(tmp_path: Path) -> None:
    seen: list[TrainingEvent] = []
    done = run_in_foreground(job(), JobFiles(tmp_path), backend(0.05), seen.append,
                             poll_interval_s=0.05)
    assert done.status is JobStatus.SUCCEEDED and done.step == 3 and done.total_steps == 3
    assert done.attempts == 1 and done.finished_at is not None
    assert done.best_checkpoint == str(tmp_path / "checkpoints" / "checkpoint-3")
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-2].kind is TrainingEventKind.RESULTS and seen[-1].status is JobStatus.SUCCEEDED


def test_a_process_killed_mid_run_is_resumed_from_its_last_checkpoint(tmp_path: Path) -> None:
    run = JobRun(job(max_steps=4), JobFiles(tmp_path), backend(), resume_attempts=2)
    run.launch()
    seen: list[TrainingEvent] = []
    drive(run, seen, checkpoint_saved(2))
    kill(run)
    drive(run, seen)
    assert run.job.status is JobStatus.SUCCEEDED and run.job.attempts == 2
    assert run.job.resumed_from == str(tmp_path / "checkpoints" / "checkpoint-2")
    notes = messages(seen)
    assert any(m.startswith("resumed from checkpoint-2 after the training process died at "
                            "step 2 (exit code -9)") for m in notes), notes
    assert "resumed from checkpoint-2" in notes  # what the relaunched process said
    steps = [e.step for e in seen if e.kind is TrainingEventKind.STEP]
    assert steps == [1, 2, 3, 4], "no step is trained twice or skipped"


def test_a_process_killed_before_any_checkpoint_fails_and_says_why(tmp_path: Path) -> None:
    run = JobRun(job(), JobFiles(tmp_path), backend(step_s=30), resume_attempts=2)
    run.launch()
    seen: list[TrainingEvent] = []
    drive(run, seen, lambda e: e.message == "started")
    kill(run)
    drive(run, seen)
    assert run.job.status is JobStatus.FAILED and run.job.attempts == 1
    assert run.job.error is not None and run.job.error.startswith(
        "the training process died at step 0 (exit code -9); no checkpoint to resume from")
    assert seen[-1].status is JobStatus.FAILED and seen[-1].message == run.job.error


def test_a_job_that_keeps_dying_fails_once_its_resumes_are_spent(tmp_path: Path) -> None:
    run = JobRun(job(max_steps=5), JobFiles(tmp_path), backend(), resume_attempts=1)
    run.launch()
    seen: list[TrainingEvent] = []
    drive(run, seen, checkpoint_saved(1))
    kill(run)
    drive(run, seen, checkpoint_saved(2))
    kill(run)
    drive(run, seen)
    assert run.job.status is JobStatus.FAILED and run.job.attempts == 2
    assert run.job.error is not None and run.job.error.startswith(
        "the training process died at step 2 (exit code -9); not resumed: 2 training "
        "process(es) started, at most 1 resume(s) allowed")


def test_a_cancelled_job_stops_at_a_step_boundary_and_keeps_its_checkpoint(
        tmp_path: Path) -> None:
    run = JobRun(job(max_steps=50), JobFiles(tmp_path), backend(), cancel_grace_s=30)
    run.launch()
    seen: list[TrainingEvent] = []
    drive(run, seen, checkpoint_saved(1))
    run.cancel()
    assert run.job.status is JobStatus.CANCELLING
    drive(run, seen)
    assert run.job.status is JobStatus.CANCELLED and run.job.step < 50
    assert seen[-1].message is not None and "the last checkpoint is kept" in seen[-1].message
    assert (tmp_path / "checkpoints" / "checkpoint-1").is_dir()


def test_a_cancel_not_heeded_in_time_is_a_kill_and_the_job_is_cancelled(
        tmp_path: Path) -> None:
    run = JobRun(job(max_steps=50), JobFiles(tmp_path),
                 backend(STANDIN_IGNORE_CANCEL="1"), cancel_grace_s=1.0)
    run.launch()
    seen: list[TrainingEvent] = []
    drive(run, seen, checkpoint_saved(1))
    run.cancel()
    drive(run, seen, timeout_s=30)
    assert run.job.status is JobStatus.CANCELLED and run.job.attempts == 1, run.job.error
    assert seen[-1].message is not None and seen[-1].message.startswith(
        "cancelled: the training process was stopped before its final event")


@pytest.mark.parametrize("alive_at_restart", [True, False])
def test_a_run_taken_over_by_a_new_supervisor_goes_on_where_the_log_was_read(
        tmp_path: Path, alive_at_restart: bool) -> None:
    """A restarted gateway builds the JobRun again from the store (job, handle, read seq)."""
    first = JobRun(job(max_steps=4), JobFiles(tmp_path), backend(), resume_attempts=2)
    first.launch()
    seen: list[TrainingEvent] = []
    drive(first, seen, checkpoint_saved(1))
    if not alive_at_restart:
        kill(first)
        deadline = time.monotonic() + 10
        while first.alive() and time.monotonic() < deadline:  # reaped by its parent, us
            time.sleep(0.05)
    again = JobRun(first.job, JobFiles(tmp_path), LocalTrlBackend(module=STANDIN),
                   read_seq=first.read_seq, handle=first.handle)
    assert again.alive() is alive_at_restart  # by pid and start time: not its child
    drive(again, seen)
    assert again.job.status is JobStatus.SUCCEEDED
    assert [e.step for e in seen if e.kind is TrainingEventKind.STEP] == [1, 2, 3, 4]
    assert again.job.attempts == (1 if alive_at_restart else 2)
