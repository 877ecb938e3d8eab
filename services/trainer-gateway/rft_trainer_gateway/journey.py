"""A dataset's journey F to J, driven by the gateway through the owning services' APIs.

    F  the generator splits the dataset (POST /v1/datasets/{dataset}/split) and stores it
    G  the request's grader, validated by the grader against the train rows' fields, or the
       preset the grader chooses for them (POST /v1/graders:preset)
    H  the grader's dry run (POST /v1/dry-runs), followed by its event stream to its verdict
    I  this gateway's own training job (the supervisor), polled to its end
    J  the job's results (step J's comparison), and a deploy when the request asks for one

The journey is stored after every change (:mod:`rft_trainer_gateway.journey_store`), so a
restarted gateway goes on from the first step not done. What a step submitted is stored before
it is submitted: the dry run's id (the grader answers the same job for the same request anyway)
and the training job's id, chosen here, so a restart re-attaches to that job instead of
training again. A failed step keeps its reason; posting the journey again goes on from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rft_schemas import (
    DatasetSplit,
    DryRunOutput,
    DryRunRequest,
    DryRunStatus,
    EvalComparison,
    GraderOutput,
    JobStatus,
    Journey,
    JourneyRequest,
    JourneyStatus,
    JourneyStep,
    ResultsOutput,
    RowsSource,
    SplitOutput,
    StepStatus,
    TrainingHyperparameters,
    TrainingJobRequest,
    TrainingOutput,
    Verdict,
)
from rft_schemas.journey import JOURNEY_STEPS
from rft_trainer_gateway.budget import default_budget
from rft_trainer_gateway.job_files import JobFiles
from rft_trainer_gateway.journey_services import JourneyServices, ServiceFailed
from rft_trainer_gateway.journey_store import JourneyStore
from rft_trainer_gateway.preparation import grader_name
from rft_trainer_gateway.submission import new_job_id, queue_job
from rft_trainer_gateway.supervisor import JobSupervisor

log = logging.getLogger(__name__)


class StepFailed(RuntimeError):
    """A step cannot finish: its message is the step's reason."""


class JourneyBusy(RuntimeError):
    """The dataset's journey is running: it is not started twice."""


def _now() -> datetime:
    return datetime.now(UTC)


def resumed(journey: Journey, request: JourneyRequest) -> Journey:
    """``journey`` posted again with ``request``: steps done keep their outputs (all start
    over with ``restart``); a failed step goes back to pending, keeping what it submitted
    unless that ended badly (a failed or cancelled training job is trained again)."""
    if request.restart:
        return Journey(dataset=journey.dataset, request=request, created_at=journey.created_at)
    steps = []
    for step in journey.steps:
        if step.status is not StepStatus.DONE:
            training = step.training
            if training is not None and training.status.finished and \
                    training.status is not JobStatus.SUCCEEDED:
                training = None
            step = step.model_copy(update={"status": StepStatus.PENDING, "reason": None,
                                           "training": training})
        steps.append(step)
    return journey.model_copy(update={"request": request, "steps": steps,
                                      "status": JourneyStatus.RUNNING, "updated_at": _now()})


def row_fields(rows: list[dict[str, Any]]) -> list[str]:
    """The item fields a grader may name: every row's keys (and ``tools``, which the grader's
    item always carries)."""
    return sorted({key for row in rows for key in row} | {"tools"})


class JourneyRunner:
    """Runs journeys as tasks of the gateway; on start, goes on with this replica's unfinished
    journeys."""

    def __init__(self, store: JourneyStore, services: JourneyServices,
                 supervisor: JobSupervisor, poll_s: float) -> None:
        self.store = store
        self.services = services
        self.supervisor = supervisor
        self.poll_s = poll_s
        self.owner = supervisor.settings.trainer_replica_id
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._steps: dict[str, Callable[[Journey, JourneyStep], Awaitable[None]]] = {
            "F": self._split, "G": self._grader, "H": self._dry_run, "I": self._train,
            "J": self._results}

    # --- lifecycle and API -------------------------------------------------------------------

    async def start(self) -> None:
        for dataset in await asyncio.to_thread(self.store.unfinished, self.owner):
            log.info("resuming journey", extra={"dataset": dataset})
            self._launch(dataset)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def running(self, dataset: str) -> bool:
        task = self._tasks.get(dataset)
        return task is not None and not task.done()

    async def submit(self, dataset: str, request: JourneyRequest) -> Journey:
        """Start the journey, or go on with the stored one (:func:`resumed`)."""
        if self.running(dataset):
            raise JourneyBusy(f"the journey of {dataset!r} is running: wait for it to end")
        stored = await asyncio.to_thread(self.store.get, dataset)
        if stored is not None and stored.status is JourneyStatus.RUNNING:
            owner = await asyncio.to_thread(self.store.owner, dataset)
            if owner != self.owner:
                raise JourneyBusy(f"the journey of {dataset!r} is running on replica {owner}")
        journey = (resumed(stored, request) if stored is not None
                   else Journey(dataset=dataset, request=request))
        await self._save(journey)
        self._launch(dataset)
        return journey

    async def wait(self, dataset: str) -> None:
        task = self._tasks.get(dataset)
        if task is not None:
            await asyncio.shield(task)

    def _launch(self, dataset: str) -> None:
        self._tasks[dataset] = asyncio.create_task(self._run(dataset),
                                                   name=f"journey-{dataset}")

    async def _save(self, journey: Journey) -> None:
        journey.updated_at = _now()
        await asyncio.to_thread(self.store.put, journey, self.owner)

    # --- the run -----------------------------------------------------------------------------

    async def _run(self, dataset: str) -> None:
        journey = await asyncio.to_thread(self.store.get, dataset)
        if journey is None:
            return
        for letter in JOURNEY_STEPS:
            if letter > journey.request.until:
                break
            step = journey.step(letter)
            if step.status is StepStatus.DONE:
                continue
            step.status, step.reason = StepStatus.RUNNING, None
            step.started_at = step.started_at or _now()
            await self._save(journey)
            try:
                await self._steps[letter](journey, step)
            except asyncio.CancelledError:
                raise  # the gateway stops: the step stays running and is resumed on start
            except (StepFailed, ServiceFailed) as error:
                await self._fail(journey, step, str(error))
                return
            except Exception as error:  # a journey must never take the gateway down
                log.exception("journey step crashed", extra={"dataset": dataset, "step": letter})
                await self._fail(journey, step, f"{type(error).__name__}: {error}")
                return
            step.status, step.finished_at = StepStatus.DONE, _now()
            await self._save(journey)
        journey.status = JourneyStatus.DONE
        await self._save(journey)

    async def _fail(self, journey: Journey, step: JourneyStep, reason: str) -> None:
        step.status, step.reason, step.finished_at = StepStatus.FAILED, reason, _now()
        journey.status = JourneyStatus.FAILED
        await self._save(journey)
        log.warning("journey step failed", extra={"dataset": journey.dataset,
                                                  "step": step.step, "reason": reason})

    # --- the steps ---------------------------------------------------------------------------

    async def _split(self, journey: Journey, step: JourneyStep) -> None:
        split = await self.services.split(journey.dataset, journey.request.split)
        step.split = SplitOutput(train_rows=split.train_rows, valid_rows=split.valid_rows,
                                 counts=split.manifest.counts,
                                 synthetic_jobs=split.synthetic_jobs)
        if not split.train_rows:
            raise StepFailed(f"the split of {journey.dataset!r} has no train row")

    async def _rows(self, journey: Journey) -> DatasetSplit:
        split = await self.services.split_rows(journey.dataset)
        if not split.train:
            raise StepFailed(f"the generator's split of {journey.dataset!r} has no train row")
        return split

    async def _grader(self, journey: Journey, step: JourneyStep) -> None:
        rows = (await self._rows(journey)).train or []
        given = journey.request.grader
        if given is not None:
            checked = await self.services.validate(given, row_fields(rows))
            issues, config, preset = checked.issues, given, None
        else:
            chosen = await self.services.preset(rows)
            issues, config, preset = chosen.issues, chosen.config, chosen.preset
        if issues:
            problems = "; ".join(f"{i.path}: {i.message}" for i in issues)
            raise StepFailed(f"the grader does not fit the train rows: {problems}")
        step.grader = GraderOutput(name=grader_name(config),
                                   source="preset" if given is None else "request",
                                   preset=preset, config=config)

    def _grader_config(self, journey: Journey) -> dict[str, Any]:
        grader = journey.step("G").grader
        if grader is None:
            raise StepFailed("step G left no grader: post the journey again to redo it")
        return grader.config

    async def _dry_run(self, journey: Journey, step: JourneyStep) -> None:
        job = None
        if step.dry_run is not None:  # submitted before a restart: follow that job
            job = await self.services.dry_run(step.dry_run.job_id)
        if job is None:
            rows = (await self._rows(journey)).train or []
            options = journey.request.dry_run
            job = await self.services.submit_dry_run(DryRunRequest(
                dataset=journey.dataset, prompts=rows, grader=self._grader_config(journey),
                prompt_count=options.prompt_count,
                samples_per_prompt=options.samples_per_prompt, max_tokens=options.max_tokens,
                temperature=options.temperature, tool_choice=journey.request.tool_choice,
                seed=options.seed, model=options.model))
        report = job.report
        if job.status is not DryRunStatus.DONE or report is None:
            async for state in self.services.follow_dry_run(job.id):
                seen = DryRunOutput(job_id=state.id, done=state.done, total=state.total)
                if seen != step.dry_run:
                    step.dry_run = seen
                    await self._save(journey)
                job, report = state, state.report
        if report is None:
            raise StepFailed(f"the grader's dry run {job.id} ended without a report")
        step.dry_run = DryRunOutput(job_id=job.id, done=job.done, total=job.total,
                                    verdict=report.verdict, reasons=report.reasons,
                                    mean=report.stats.mean)
        if report.verdict is Verdict.NO_GO and journey.request.stop_on_no_go:
            raise StepFailed(f"the dry run {job.id} says NO-GO: {'; '.join(report.reasons)}")

    def _hyperparameters(self, request: JourneyRequest) -> TrainingHyperparameters:
        hp = request.hyperparameters or default_budget(
            "cuda" if request.device == "cuda" else "cpu", {}).hyperparameters
        if request.tool_choice is not None:
            hp = hp.model_copy(update={"tool_choice": request.tool_choice})
        return hp

    async def _train(self, journey: Journey, step: JourneyStep) -> None:
        store = self.supervisor.store
        job = None
        if step.training is not None:  # submitted (or about to be) before a restart
            job = await asyncio.to_thread(store.get, step.training.job_id)
        if job is None:
            job_id = step.training.job_id if step.training is not None else new_job_id()
            step.training = TrainingOutput(job_id=job_id)
            await self._save(journey)  # the id first: a restart then finds the job by it
            split = await self._rows(journey)
            request = journey.request
            job, errors = await queue_job(self.supervisor, TrainingJobRequest(
                dataset=journey.dataset, train=RowsSource(rows=split.train),
                valid=RowsSource(rows=split.valid), grader=self._grader_config(journey),
                base_model=request.base_model, device=request.device,
                hyperparameters=self._hyperparameters(request)), job_id)
            if job is None:
                refused = "; ".join(f"{'.'.join(str(p) for p in e.loc[1:])}: {e.msg}"
                                    for e in errors)
                raise StepFailed(f"the training job was refused: {refused}")
        while True:
            seen = TrainingOutput(job_id=job.id, status=job.status, step=job.step,
                                  total_steps=job.total_steps, error=job.error)
            if seen != step.training:
                step.training = seen
                await self._save(journey)
            if job.status.finished:
                break
            await asyncio.sleep(self.poll_s)
            found = await asyncio.to_thread(store.get, job.id)
            if found is None:
                raise StepFailed(f"training job {job.id} is gone from the gateway's store")
            job = found
        if job.status is not JobStatus.SUCCEEDED:
            raise StepFailed(f"training job {job.id} {job.status.value}: "
                             f"{job.error or 'no reason recorded'}")

    async def _results(self, journey: Journey, step: JourneyStep) -> None:
        training = journey.step("I").training
        if training is None:
            raise StepFailed("step I left no training job: post the journey again")
        job = await asyncio.to_thread(self.supervisor.store.get, training.job_id)
        if job is None:
            raise StepFailed(f"training job {training.job_id} is gone from the gateway's store")
        files = (JobFiles(Path(job.output_dir)) if job.output_dir
                 else self.supervisor.files(job.id))
        if not files.results.is_file():
            raise StepFailed(f"training job {job.id} wrote no results ({files.results})")
        text = await asyncio.to_thread(files.results.read_text)
        comparison = EvalComparison.model_validate_json(text)
        step.results = ResultsOutput(
            job_id=job.id, before_mean=comparison.before.mean, after_mean=comparison.after.mean,
            deployable=comparison.deployable, gate_reasons=comparison.gate_reasons)
        if journey.request.deploy is not None:
            await self._deploy(journey, step, files)

    async def _deploy(self, journey: Journey, step: JourneyStep, files: JobFiles) -> None:
        # Imported here, as the API does: the deploy targets pull in what serving needs.
        from rft_trainer_gateway.deploy import DeployError, DeployGateClosed, deploy_job

        assert step.results is not None and journey.request.deploy is not None
        try:
            result = await asyncio.to_thread(deploy_job, files, journey.request.deploy)
        except DeployGateClosed as closed:
            step.results.deploy_refused = f"the deploy gate is closed: {'; '.join(closed.reasons)}"
            return
        except DeployError as error:
            raise StepFailed(f"deploy failed: {error}") from error
        step.results.deployed_model = result.model_name
        with contextlib.suppress(LookupError):
            await asyncio.to_thread(self.supervisor.store.update, step.results.job_id,
                                    lambda j: j.model_copy(update={"tuned_model":
                                                                   result.model_name}))
