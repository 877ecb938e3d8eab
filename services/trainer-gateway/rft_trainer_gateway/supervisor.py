"""Runs training jobs to their end: launch, follow the event log, resume after a crash, cancel.

The rules live in :class:`JobRun`, one job's training from launch to its final event, with no
store: `rft train` runs one in the foreground (:func:`run_in_foreground`) and the service's
:class:`JobSupervisor` runs several and keeps each in the durable store. Both therefore agree on
what a crash is and what follows it:

* The training process ends with a final STATUS event (succeeded, cancelled, failed). A process
  that is gone without one crashed (killed, out of memory, the machine went down).
* A crashed job goes on from its last complete checkpoint (``rft_checkpoint.json`` written),
  at most ``resume_attempts`` times; without a checkpoint, or with no attempt left, it fails and
  says at which step, with which exit code, and why it was not resumed.
* A job being cancelled whose process is gone (it was killed after the grace period) is
  cancelled, not crashed: its last checkpoint is kept.
* After a gateway restart a job whose process still runs is re-attached; one whose process is
  gone is resumed from its last checkpoint, restarted when it never wrote one, or failed.

The gateway's own notes (resumed, failed, cancelled after a kill) are appended to the job's
event log only while no training process writes to it, so the log keeps one writer at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from rft_runtime.kafka.producing import Outbound
from rft_schemas import (
    CheckpointInfo,
    JobStatus,
    TrainingBackendName,
    TrainingEvent,
    TrainingEventKind,
    TrainingJob,
    TrainingJobRequest,
)
from rft_schemas.kafka_topics import TRAINING_EVENTS
from rft_trainer_gateway import checkpoints
from rft_trainer_gateway.backends.base import RunHandle, TrainingBackend
from rft_trainer_gateway.events import EventLog
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.preparation import resolve_base_model
from rft_trainer_gateway.settings import TrainerSettings
from rft_trainer_gateway.store import JobStore

log = logging.getLogger(__name__)

LOG_TAIL_CHARS = 300

Publish = Callable[[Sequence[Outbound]], Awaitable[None]]

# Backends whose training process publishes its own events (a pod whose job directory the
# gateway may not see; RFT_TRAINING_PUBLISH_EVENTS): the gateway publishes none of those jobs'
# events, or the topic would carry each twice, and the gateway's consumer of the topic would
# append the gateway's copies to the job's log again.
SELF_PUBLISHING = frozenset({TrainingBackendName.KUBERNETES})


def _now() -> datetime:
    return datetime.now(UTC)


# --- the job's files --------------------------------------------------------------------------


def last_checkpoint(files: JobFiles) -> CheckpointInfo | None:
    return checkpoints.latest_checkpoint(files.checkpoints)


def log_tail(files: JobFiles) -> str | None:
    """The training process's last log line: what it said before it died."""
    try:
        with files.worker_log.open("rb") as text:
            text.seek(0, 2)
            text.seek(max(0, text.tell() - 4096))
            lines = [line.strip() for line in text.read().decode(errors="replace").splitlines()]
    except OSError:
        return None
    lines = [line for line in lines if line]
    return lines[-1][-LOG_TAIL_CHARS:] if lines else None


# --- the rules --------------------------------------------------------------------------------


def is_final(event: TrainingEvent) -> bool:
    return event.kind is TrainingEventKind.STATUS and event.status.finished


def apply_event(job: TrainingJob, event: TrainingEvent,
                files: JobFiles | None = None) -> TrainingJob:
    """The job after ``event``: its status, step, totals, best checkpoint, end and error."""
    update: dict[str, Any] = {}
    if event.step:
        update["step"] = max(job.step, event.step)
    if event.total_steps:
        update["total_steps"] = event.total_steps
    if event.kind is TrainingEventKind.STATUS:
        cancelling = job.status is JobStatus.CANCELLING and not event.status.finished
        if not cancelling:  # a cancel asked for stays visible until the process ends
            update["status"] = event.status
        if event.status.finished:
            update["finished_at"] = event.at
            if event.status is JobStatus.FAILED:
                update["error"] = event.message or "the training failed"
    if files is not None and (event.kind is TrainingEventKind.CHECKPOINT or is_final(event)):
        best = checkpoints.best_checkpoint(checkpoints.list_checkpoints(files.checkpoints))
        if best is not None:
            update["best_checkpoint"] = best.path
    return job.model_copy(update=update) if update else job


class Cause(StrEnum):
    CRASH = "crash"  # the process died while this gateway watched it
    GATEWAY_RESTART = "gateway_restart"  # found dead after the gateway (re)started


class Action(StrEnum):
    RESUME = "resume"
    RESTART = "restart"
    FAIL = "fail"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AfterDeath:
    action: Action
    message: str
    checkpoint: CheckpointInfo | None = None


def after_death(job: TrainingJob, checkpoint: CheckpointInfo | None, exit_code: int | None,
                resume_attempts: int, cause: Cause, last_log: str | None = None) -> AfterDeath:
    """What follows a training process that is gone without its final event."""
    code = "unknown" if exit_code is None else str(exit_code)
    died = f"the training process died at step {job.step} (exit code {code})"
    if cause is Cause.GATEWAY_RESTART:
        died = (f"the training process was gone when the gateway restarted (step {job.step})"
                if job.attempts else "the gateway stopped before the training process started")
    said = f"; its last log line: {last_log}" if last_log else ""
    if job.status is JobStatus.CANCELLING:
        kept = f"; {checkpoint.name} is kept" if checkpoint else ""
        return AfterDeath(Action.CANCELLED, f"cancelled: the training process was stopped "
                                            f"before its final event (step {job.step}){kept}")
    resumes_used = max(0, job.attempts - 1)
    if resumes_used >= resume_attempts:
        return AfterDeath(Action.FAIL, f"{died}; not resumed: {job.attempts} training "
                                       f"process(es) started, at most {resume_attempts} "
                                       f"resume(s) allowed{said}")
    if checkpoint is not None:
        return AfterDeath(Action.RESUME, f"resumed from {checkpoint.name} after {died}",
                          checkpoint)
    if cause is Cause.GATEWAY_RESTART or job.attempts == 0:
        return AfterDeath(Action.RESTART, f"restarted from the base model: {died} and no "
                                          f"checkpoint was written yet")
    return AfterDeath(Action.FAIL, f"{died}; no checkpoint to resume from{said}")


class JobRun:
    """One job's training from launch to its final event (no store: the caller keeps ``job``).

    ``poll`` reads what the process wrote since the last call, applies it to ``job`` and, when
    the process is gone without its final event, applies :func:`after_death` (relaunching the
    process, or writing the final event itself)."""

    def __init__(self, job: TrainingJob, files: JobFiles, backend: TrainingBackend, *,
                 resume_attempts: int = 2, cancel_grace_s: float = 120.0,
                 read_seq: int | None = None, handle: RunHandle | None = None) -> None:
        self.job = job
        self.files = files
        self.backend = backend
        self.resume_attempts = resume_attempts
        self.cancel_grace_s = cancel_grace_s
        self.log = EventLog(files.events)
        if read_seq is None:  # a new run: what an earlier run of this directory wrote is old
            last = self.log.last()
            read_seq = last.seq if last else 0
        self.read_seq = read_seq
        self.handle = handle
        self.finished = job.status.finished
        self._kill_at: float | None = None

    def launch(self, resume_from: CheckpointInfo | None = None) -> None:
        self.job = self.job.model_copy(update={
            "status": JobStatus.RUNNING, "attempts": self.job.attempts + 1,
            "started_at": self.job.started_at or _now(), "output_dir": str(self.files.root),
            "resumed_from": resume_from.path if resume_from else self.job.resumed_from})
        self.files.write_job(self.job)
        self.handle = self.backend.launch(
            self.job, self.files, Path(resume_from.path) if resume_from else None)

    def alive(self) -> bool:
        return self.handle is not None and self.backend.alive(self.handle)

    def cancel(self) -> None:
        """Ask for a stop at the next step boundary; past the grace period, kill."""
        if self.finished or self._kill_at is not None:
            return
        self.job = self.job.model_copy(update={"status": JobStatus.CANCELLING})
        self._kill_at = time.monotonic() + self.cancel_grace_s
        if self.handle is not None:
            self.backend.cancel(self.handle, self.files)
        else:
            self.files.cancel_flag.touch()

    def poll(self, cause: Cause = Cause.CRASH) -> list[TrainingEvent]:
        """New events since the last poll, in the log's order (the gateway's notes included)."""
        if self.finished:
            return []
        alive = self.alive()  # before reading: a process that ended wrote everything first
        events = self._read()
        if self.finished or alive:
            if alive and self._kill_at is not None and time.monotonic() > self._kill_at:
                assert self.handle is not None
                log.warning("cancel not heeded in time: killing", extra={"job": self.job.id})
                self.backend.kill(self.handle)
            return events
        exit_code = self._exit_code()
        decision = after_death(self.job, last_checkpoint(self.files), exit_code,
                               self.resume_attempts, cause, log_tail(self.files))
        if decision.action in (Action.RESUME, Action.RESTART):
            self._note(JobStatus.RUNNING, decision.message)
            events += self._read()
            self.launch(decision.checkpoint)
        else:
            status = JobStatus.CANCELLED if decision.action is Action.CANCELLED else (
                JobStatus.FAILED)
            self._note(status, decision.message)
            events += self._read()
        return events

    def _read(self) -> list[TrainingEvent]:
        events = self.log.read(after_seq=self.read_seq)
        for event in events:
            self.read_seq = event.seq
            self.job = apply_event(self.job, event, self.files)
            if is_final(event):
                self.finished = True
                break
        return events[: next((i + 1 for i, e in enumerate(events) if is_final(e)), len(events))]

    def _note(self, status: JobStatus, message: str) -> None:
        # A fresh EventLog: the next seq is read from the file, where a relaunched process
        # may have written since this run's last note.
        EventLog(self.files.events).append(TrainingEvent(
            job_id=self.job.id, kind=TrainingEventKind.STATUS, status=status,
            step=self.job.step, total_steps=self.job.total_steps, message=message))

    def _exit_code(self) -> int | None:
        exit_code = getattr(self.backend, "exit_code", None)
        if exit_code is None or self.handle is None:
            return None
        code = exit_code(self.handle)
        return code if isinstance(code, int) else None


def run_in_foreground(job: TrainingJob, files: JobFiles, backend: TrainingBackend,
                      on_event: Callable[[TrainingEvent], None], *, resume_attempts: int = 2,
                      cancel_grace_s: float = 120.0, poll_interval_s: float = 0.5,
                      resume_from: CheckpointInfo | None = None) -> TrainingJob:
    """Train one prepared job (its rows and grader written in ``files``) until it ends, calling
    ``on_event`` for each event; the same crash and resume rules as the service. A Ctrl-C asks
    the training to stop at its next step boundary (a second one kills it)."""
    run = JobRun(job, files, backend, resume_attempts=resume_attempts,
                 cancel_grace_s=cancel_grace_s)
    run.launch(resume_from)
    while not run.finished:
        try:
            for event in run.poll():
                on_event(event)
            if not run.finished:
                time.sleep(poll_interval_s)
        except KeyboardInterrupt:
            if run.job.status is JobStatus.CANCELLING and run.handle is not None:
                backend.kill(run.handle)
            run.cancel()
    return run.job


# --- the service ------------------------------------------------------------------------------


class SupervisorMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.jobs = Gauge("rft_trainer_jobs", "Training jobs in the store by status",
                          ["status"], registry=registry)
        self.events_stored = Counter("rft_trainer_events_stored",
                                     "Training events stored", registry=registry)
        self.events_published = Counter(
            "rft_trainer_events_published", "Training events published to Kafka",
            registry=registry)
        self.publish_failures = Counter(
            "rft_trainer_event_publish_failures", "Publishes of training events that failed "
            "(retried on the next round)", registry=registry)
        self.resumes = Counter("rft_trainer_resumes",
                               "Training processes relaunched after a crash", registry=registry)


class JobSupervisor:
    """The service's jobs: runs queued ones (up to the concurrency), keeps each running job's
    events and state in the store, re-attaches or resumes its jobs after a restart. A Managed
    resource of the app: stopping it leaves training processes running for the next start."""

    def __init__(self, store: JobStore, settings: TrainerSettings,
                 backends: dict[TrainingBackendName, TrainingBackend],
                 publish: Publish | None = None, metrics: SupervisorMetrics | None = None,
                 base_model: Callable[[str | None], str] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.backends = backends
        self.publish = publish
        self.metrics = metrics or SupervisorMetrics()
        self._base_model = base_model or resolve_base_model
        self.jobs_dir = settings.resolved_jobs_dir()
        self._runs: dict[str, JobRun] = {}
        self._unpublished: set[str] = set()
        self._pending: dict[str, list[TrainingEvent]] = {}
        self._backend_of: dict[str, TrainingBackendName] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def files(self, job_id: str) -> JobFiles:
        return JobFiles(self.jobs_dir / job_id)

    # lifecycle

    async def start(self) -> None:
        await self.recover()
        if self.publish is not None and self.settings.trainer_publish_events:
            # Events stored but not acknowledged before the last stop: at least once.
            self._unpublished.update(await asyncio.to_thread(
                self.store.unpublished, self.settings.trainer_replica_id))
        self._task = asyncio.create_task(self._loop(), name="training-supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a round that failed (a store unreachable) is tried again
                log.exception("training supervisor round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.trainer_poll_interval_s)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    # requests

    async def submit(self, job: TrainingJob, request: TrainingJobRequest) -> TrainingJob:
        created = await asyncio.to_thread(self.store.create, job, request)
        await self._store_events(job.id, [TrainingEvent(
            job_id=job.id, kind=TrainingEventKind.STATUS, status=JobStatus.QUEUED,
            total_steps=job.total_steps, message="queued")])
        self.wake()
        return created

    async def cancel(self, job_id: str) -> TrainingJob | None:
        """Cancel a job: a queued one at once, a running one at its next step boundary (the
        replica running it sees the status and signals its process)."""
        def ask(job: TrainingJob) -> TrainingJob | None:
            if job.status.finished or job.status is JobStatus.CANCELLING:
                return None
            if job.status is JobStatus.QUEUED:
                return job.model_copy(update={"status": JobStatus.CANCELLED,
                                              "finished_at": _now()})
            return job.model_copy(update={"status": JobStatus.CANCELLING})

        # One transaction: a queued job's cancelled status and its final event are seen together.
        stored = await asyncio.to_thread(
            self.store.append_events, job_id,
            [TrainingEvent(job_id=job_id, kind=TrainingEventKind.STATUS,
                           status=JobStatus.CANCELLED, message="cancelled before it started")],
            lambda job: ask(job) if job.status is JobStatus.QUEUED else None,
            None, None, True)
        if not stored:
            await asyncio.to_thread(self.store.update, job_id, ask)
        await self._publish(job_id, stored)
        self.wake()
        return await asyncio.to_thread(self.store.get, job_id)

    # one round

    async def tick(self) -> None:
        """Follow every running job once, then start queued ones while there is room."""
        for job_id in list(self._runs):
            try:
                await self._follow(self._runs[job_id])
            except Exception:  # one job's backend or files failing must not stall the others
                log.exception("following a training job failed; retried next round",
                              extra={"job": job_id})
        while len(self._runs) < self.settings.trainer_concurrency:
            if not await self._start_next():
                break
        await self._publish_backlog()
        counts = await asyncio.to_thread(self.store.counts)
        for status in JobStatus:
            self.metrics.jobs.labels(status.value).set(counts.get(status, 0))

    async def _follow(self, run: JobRun, cause: Cause = Cause.CRASH) -> None:
        stored = await asyncio.to_thread(self.store.get, run.job.id)
        if stored is not None and stored.status is JobStatus.CANCELLING:
            await asyncio.to_thread(run.cancel)
        attempts = run.job.attempts
        # Events read but not stored (the store was down) go first: the run has moved past them.
        events = self._pending.pop(run.job.id, []) + await asyncio.to_thread(run.poll, cause)
        if run.job.attempts > attempts:
            self.metrics.resumes.inc()
        try:
            await self._save(run, events)
        except BaseException:
            self._pending[run.job.id] = events
            raise
        if run.finished:
            del self._runs[run.job.id]

    async def _save(self, run: JobRun, events: list[TrainingEvent]) -> None:
        latest = run.job

        def merge(stored: TrainingJob) -> TrainingJob:
            keep_cancelling = (stored.status is JobStatus.CANCELLING
                               and not latest.status.finished)
            return latest.model_copy(update={"status": JobStatus.CANCELLING}) if (
                keep_cancelling) else latest

        stored = await asyncio.to_thread(
            self.store.append_events, run.job.id, events, merge, run.read_seq, run.handle)
        self.metrics.events_stored.inc(len(stored))
        await self._publish(run.job.id, stored)

    async def _start_next(self) -> bool:
        queued = await asyncio.to_thread(self.store.ids, [JobStatus.QUEUED])
        for job_id in queued:
            claimed = await asyncio.to_thread(
                self.store.claim, job_id, self.settings.trainer_replica_id,
                lambda job: job.model_copy(update={"status": JobStatus.RUNNING}))
            if claimed is None:
                continue  # another replica took it, or it was cancelled
            record = await asyncio.to_thread(self.store.record, job_id)
            files = self.files(job_id)
            try:
                run = await asyncio.to_thread(self._prepare, record.job, record.request, files)
            except Exception as error:  # a job that cannot start fails; the service goes on
                log.exception("training job could not start", extra={"job": job_id})
                await self._fail(job_id, f"the job could not start: {type(error).__name__}: "
                                         f"{error}")
                return True
            self._runs[job_id] = run
            await self._follow(run)  # stores the handle: a restart finds the process by it
            return True
        return False

    @staticmethod
    def _write_inputs(request: TrainingJobRequest, files: JobFiles) -> None:
        """The rows and grader the training process reads, from the request as stored."""
        files.root.mkdir(parents=True, exist_ok=True)
        files.write_rows(files.train, request.train.rows or [])
        files.write_rows(files.valid, request.valid.rows or [])
        files.grader.write_text(json.dumps(request.grader, indent=2))

    def _restore_inputs(self, request: TrainingJobRequest, files: JobFiles) -> None:
        # A new volume, or a gateway stopped before the job's directory was written: a relaunch
        # needs its inputs back (the store keeps the request with its rows).
        if not (files.train.is_file() and files.valid.is_file() and files.grader.is_file()):
            self._write_inputs(request, files)

    def _prepare(self, job: TrainingJob, request: TrainingJobRequest, files: JobFiles) -> JobRun:
        backend = self.backends[job.backend]
        self._write_inputs(request, files)
        job = job.model_copy(update={"base_model": self._base_model(request.base_model)})
        run = JobRun(job, files, backend, resume_attempts=self.settings.trainer_resume_attempts,
                     cancel_grace_s=self.settings.trainer_cancel_grace_s)
        run.launch()
        return run

    async def _fail(self, job_id: str, message: str) -> None:
        def failed(job: TrainingJob) -> TrainingJob:
            return job.model_copy(update={"status": JobStatus.FAILED, "error": message,
                                          "finished_at": _now()})

        stored = await asyncio.to_thread(
            self.store.append_events, job_id,
            [TrainingEvent(job_id=job_id, kind=TrainingEventKind.STATUS,
                           status=JobStatus.FAILED, message=message)], failed)
        await self._publish(job_id, stored)

    async def _store_events(self, job_id: str, events: list[TrainingEvent]) -> None:
        stored = await asyncio.to_thread(self.store.append_events, job_id, events)
        self.metrics.events_stored.inc(len(stored))
        await self._publish(job_id, stored)

    # after a restart

    async def recover(self) -> list[str]:
        """Take back this replica's running jobs: re-attach to a live process, else resume,
        restart or fail (and say which, in an event)."""
        ids = await asyncio.to_thread(
            self.store.ids, [JobStatus.RUNNING, JobStatus.CANCELLING],
            self.settings.trainer_replica_id)
        for job_id in ids:
            record = await asyncio.to_thread(self.store.record, job_id)
            backend = self.backends.get(record.job.backend)
            if backend is None:
                await self._fail(job_id, f"this gateway has no {record.job.backend} backend to "
                                         "re-attach the job to")
                continue
            files = self.files(job_id)
            await asyncio.to_thread(self._restore_inputs, record.request, files)
            job = record.job
            if job.attempts == 0:  # never launched: its base model was not resolved either
                job = job.model_copy(update={"base_model": await asyncio.to_thread(
                    self._base_model, record.request.base_model)})
            run = JobRun(job, files, backend,
                         resume_attempts=self.settings.trainer_resume_attempts,
                         cancel_grace_s=self.settings.trainer_cancel_grace_s,
                         read_seq=record.read_seq, handle=record.handle)
            self._runs[job_id] = run
            if run.alive():
                assert record.handle is not None
                await self._store_events(job_id, [TrainingEvent(
                    job_id=job_id, kind=TrainingEventKind.STATUS, status=run.job.status,
                    step=run.job.step, total_steps=run.job.total_steps,
                    message=f"re-attached to the running training process "
                            f"(pid {record.handle.pid or record.handle.resource})")])
            await self._follow(run, Cause.GATEWAY_RESTART)
        return ids

    # Kafka

    async def _publish(self, job_id: str, events: list[TrainingEvent]) -> None:
        if self.publish is None or not self.settings.trainer_publish_events or not events:
            return
        if job_id not in self._backend_of:
            job = await asyncio.to_thread(self.store.get, job_id)
            if job is not None:
                self._backend_of[job_id] = job.backend
        if self._backend_of.get(job_id) in SELF_PUBLISHING:
            await asyncio.to_thread(self.store.mark_published, job_id, events[-1].seq)
            return
        try:
            await self.publish([Outbound(TRAINING_EVENTS.name, job_id, e) for e in events])
        except Exception as error:
            self.metrics.publish_failures.inc()
            self._unpublished.add(job_id)
            log.warning("training events not published; retrying next round",
                        extra={"job": job_id, "error": str(error)})
            return
        self.metrics.events_published.inc(len(events))
        await asyncio.to_thread(self.store.mark_published, job_id, events[-1].seq)

    async def _publish_backlog(self) -> None:
        for job_id in list(self._unpublished):
            self._unpublished.discard(job_id)
            record = await asyncio.to_thread(self.store.record, job_id)
            events = await asyncio.to_thread(self.store.events, job_id, record.published_seq,
                                             10_000)
            await self._publish(job_id, events)

