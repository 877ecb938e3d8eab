"""A stand-in for the training entrypoint (``python -m tests.trainer_gateway.standin_worker
JOB_DIR [--resume-from DIR]``): it writes the job's files exactly as the real worker does (events,
checkpoints with ``rft_checkpoint.json``, ``results.json``) in a fraction of a second per step,
so the supervisor's rules (crash, resume, re-attach, cancel) are tested on their contract, the
event log, without training a model.

``STANDIN_STEP_S`` is the time one step takes (default 0.2 s); ``STANDIN_IGNORE_CANCEL=1``
makes it ignore a cancel (to test the kill after the grace period); while the file
``STANDIN_HOLD`` names exists, it waits before its next step (a test holds it mid-run).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from rft_schemas import (
    EvalComparison,
    JobStatus,
    ScoreStats,
    TrainingEvent,
    TrainingEventKind,
)
from rft_trainer_gateway.checkpoints import write_meta
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job_dir", type=Path)
    parser.add_argument("--resume-from", type=Path, default=None)
    args = parser.parse_args(argv)
    files = JobFiles(args.job_dir)
    job = files.read_job()
    events = EventLog(files.events)
    total = job.hyperparameters.max_steps or 3
    step_s = float(os.environ.get("STANDIN_STEP_S", "0.2"))
    ignore_cancel = os.environ.get("STANDIN_IGNORE_CANCEL") == "1"
    stop = {"asked": False}
    signal.signal(signal.SIGTERM, lambda *_: None if ignore_cancel else stop.update(asked=True))

    def emit(**fields: object) -> None:
        events.append(TrainingEvent(job_id=job.id, total_steps=total, **fields))  # type: ignore[arg-type]

    start = 0
    message = "started"
    if args.resume_from is not None:
        start = json.loads((args.resume_from / "rft_checkpoint.json").read_text())["step"]
        message = f"resumed from {args.resume_from.name}"
    emit(kind=TrainingEventKind.STATUS, status=JobStatus.RUNNING, step=start, message=message)
    hold = Path(os.environ["STANDIN_HOLD"]) if os.environ.get("STANDIN_HOLD") else None
    for step in range(start + 1, total + 1):
        time.sleep(step_s)
        while hold is not None and hold.exists() and not stop["asked"]:
            time.sleep(0.05)
        cancelled = stop["asked"] or (files.cancel_flag.exists() and not ignore_cancel)
        if cancelled:
            emit(kind=TrainingEventKind.STATUS, status=JobStatus.CANCELLED, step=step - 1,
                 message=f"cancelled at step {step - 1}; the last checkpoint is kept")
            return 0
        emit(kind=TrainingEventKind.STEP, step=step, progress=step / total,
             train_reward=0.1 * step, step_seconds=step_s)
        checkpoint = files.checkpoints / f"checkpoint-{step}"
        checkpoint.mkdir(parents=True, exist_ok=True)
        write_meta(checkpoint, step, 0.1 * step)
        emit(kind=TrainingEventKind.EVAL, step=step, valid_reward=0.1 * step)
        emit(kind=TrainingEventKind.CHECKPOINT, step=step, checkpoint=checkpoint.name)
    stats = ScoreStats(count=2, mean=0.5, std=0.1, min=0.4, max=0.6)
    files.results.write_text(EvalComparison(
        job_id=job.id, base_model=job.base_model, tuned_model="tuned", before=stats,
        after=stats, deployable=False, gate_reasons=["the change's interval includes zero"],
    ).model_dump_json())
    emit(kind=TrainingEventKind.RESULTS, step=total, progress=1.0)
    emit(kind=TrainingEventKind.STATUS, status=JobStatus.SUCCEEDED, step=total, progress=1.0,
         message="succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
