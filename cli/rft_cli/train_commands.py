"""`rft train` (step I), `rft results` and `rft deploy` (step J), and the journey's steps I and J.

`rft train RUN_DIR` trains on the run's split and grader with the same job code the trainer
gateway runs (a child training process, the same crash and resume rules), showing the step
screen live from the job's events; running it again on the same inputs resumes the job from
its last checkpoint, or shows its results when it has finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rft_cli.journey_context import JourneyContext
from rft_cli.terminal import fail, inert
from rft_schemas import (
    AdapterKind,
    DeployRequest,
    DeployTarget,
    EvalComparison,
    JobStatus,
    RowsSource,
    TrainingBackendName,
    TrainingEvent,
    TrainingEventKind,
    TrainingJob,
    TrainingJobRequest,
)
from rft_schemas.artifacts import CHECKPOINTS, EXPORT, REWARD_CURVES, TRAINING_EVENTS

console = Console()

RunDir = Annotated[Path, typer.Argument(help="a run directory of `rft run` (after step G)")]


def _device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class TrainingScreen:
    """The seed's step I screen, kept from the job's events."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job
        self.step: TrainingEvent | None = None
        self.valid: TrainingEvent | None = None
        self.checkpoint: str | None = None
        self.message = "starting the training process"
        self.status = JobStatus.QUEUED

    def update(self, event: TrainingEvent) -> None:
        self.status = event.status
        if event.kind is TrainingEventKind.STEP:
            self.step = event
        elif event.kind is TrainingEventKind.EVAL:
            self.valid = event
        elif event.kind is TrainingEventKind.CHECKPOINT:
            self.checkpoint = event.checkpoint
        if event.message:
            self.message = event.message

    def render(self) -> Group:
        step = self.step
        total = (step.total_steps if step else 0) or self.job.total_steps or 1
        done = step.step if step else 0
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        table.add_row("Progress", f"{done / total:.0%}  step {done}/{total}  epoch "
                                  f"{_fmt(step.epoch if step else 0.0, 2)}")
        if step is not None:
            graders = ", ".join(f"{k} {v:.3f}" for k, v in sorted(
                step.train_reward_by_grader.items()))
            table.add_row("Train reward", f"{_fmt(step.train_reward)}"
                                          f"{f'  ({graders})' if graders else ''}")
            table.add_row("No-signal groups", f"{_fmt(step.zero_signal_share, 2)} (all k "
                                              "samples scored the same)")
            if step.grader_error_share:
                table.add_row("Grader errors", f"[red]{step.grader_error_share:.0%} of samples "
                                               "(scored 0): check the grader[/red]")
            table.add_row("Completion length", f"{_fmt(step.completion_length, 1)} tokens")
            if step.kl is not None:
                table.add_row("KL", _fmt(step.kl, 4))
            table.add_row("Step time", _duration(step.step_seconds))
            table.add_row("ETA", _duration(step.eta_seconds))
        if self.valid is not None:
            graders = ", ".join(f"{k} {v:.3f}" for k, v in sorted(
                self.valid.valid_reward_by_grader.items()))
            table.add_row("Valid reward", f"{_fmt(self.valid.valid_reward)} at step "
                                          f"{self.valid.step}{f'  ({graders})' if graders else ''}")
        if self.checkpoint:
            table.add_row("Checkpoint", self.checkpoint)
        table.add_row("Status", f"{self.status.value}: {inert(self.message)}")
        bar = ProgressBar(total=total, completed=done, width=50)
        return Group(Text(f"Training {self.job.id}", style="bold"), bar, table)


def render_results(results: EvalComparison) -> Table:
    table = Table(title=f"Results: base vs tuned on {results.prompts} valid prompts x "
                        f"{results.samples_per_prompt} samples (same seeds)")
    for column in ("topic", "prompts", "before", "after", "change", "interval", ""):
        table.add_column(column)
    interval = f"[{results.interval.low:+.3f}, {results.interval.high:+.3f}]"
    table.add_row("overall", str(results.prompts), f"{results.before.mean:.3f}",
                  f"{results.after.mean:.3f}", f"{results.change:+.3f}", interval, "")
    for topic, delta in sorted(results.by_topic.items()):
        table.add_row(inert(topic), str(delta.prompts), f"{delta.before:.3f}",
                      f"{delta.after:.3f}", f"{delta.change:+.3f}",
                      f"[{delta.interval.low:+.3f}, {delta.interval.high:+.3f}]",
                      "[red]regression[/red]" if delta.regression else "")
    return table


def print_results(results: EvalComparison, out: Console) -> None:
    out.print(render_results(results))
    out.print(f"[dim]{results.correction}[/dim]")
    if results.completion_tokens is not None:
        out.print(f"Completion length: {results.completion_tokens.before:.1f} -> "
                  f"{results.completion_tokens.after:.1f} tokens")
    if results.tool_call_rate is not None:
        out.print(f"Tool-call rate: {results.tool_call_rate.before:.0%} -> "
                  f"{results.tool_call_rate.after:.0%}")
    for title, samples in (("Largest gains", results.gains), ("Worst losses", results.losses)):
        for sample in samples[:2]:
            out.print(f"[bold]{title}[/bold] ({inert(sample.topic)}, {sample.change:+.3f}): "
                      f"{inert(sample.prompt[-200:])!r}\n  before ({sample.before_reward:.2f}): "
                      f"{inert(sample.before_output[:200])!r}\n  after  "
                      f"({sample.after_reward:.2f}): {inert(sample.after_output[:200])!r}")
    for topic in results.regressions:
        out.print(f"[red]Regression warning:[/red] topic {inert(topic)} got worse beyond its "
                  "interval")
    verdict = "[green]open[/green]" if results.deployable else "[red]closed[/red]"
    out.print(f"Deploy gate {verdict}: {'; '.join(results.gate_reasons)}")


def train_run_dir(run_dir: Path, *, dataset: str | None = None, base_model: str | None = None,
                  backend: TrainingBackendName = TrainingBackendName.TRL, device: str = "auto",
                  overrides: dict[str, Any] | None = None,
                  out: Console = console) -> tuple[TrainingJob, EvalComparison | None]:
    from rft_trainer_gateway.backends.local import LocalTrlBackend
    from rft_trainer_gateway.budget import default_budget
    from rft_trainer_gateway.checkpoints import latest_checkpoint
    from rft_trainer_gateway.deploy import read_results
    from rft_trainer_gateway.job_files import JobFiles
    from rft_trainer_gateway.preparation import job_for_run_dir, resolve_base_model
    from rft_trainer_gateway.settings import TrainerSettings
    from rft_trainer_gateway.supervisor import run_in_foreground
    from rft_trainer_gateway.validation import validate_request

    if backend is not TrainingBackendName.TRL:
        fail("rft train runs the trl backend on this machine; the kubernetes backend runs "
             "through the trainer gateway (POST /v1/training-jobs)")
    files = JobFiles(run_dir)
    settings = TrainerSettings()
    request = TrainingJobRequest(
        dataset=dataset or run_dir.name, train=RowsSource(file=str(files.train)),
        valid=RowsSource(file=str(files.valid)),
        grader=_read_json(files.grader), base_model=base_model, backend=backend)
    errors = validate_request(request, settings)
    if errors:
        for error in errors:
            out.print(f"[red]{'.'.join(str(p) for p in error.loc[1:])}[/red]: {inert(error.msg)}")
        raise typer.Exit(2)
    target_device = _device(device)
    budget = default_budget(target_device, overrides or {})
    out.print(f"[bold]Budget[/bold]: {budget.reason}.")
    job = job_for_run_dir(run_dir, dataset=request.dataset, hp=budget.hyperparameters,
                          base_model=resolve_base_model(base_model), device=target_device)
    resume = None
    if files.job.is_file():
        previous = files.read_job()
        if previous.id == job.id and files.results.is_file():
            out.print(f"Job {job.id} finished before on these inputs: its results stand "
                      f"(delete {files.results} to train again).")
            return previous, read_results(files)
        if previous.id == job.id:
            resume = latest_checkpoint(files.checkpoints)
            if resume is not None:
                out.print(f"Resuming job {job.id} from {resume.name}.")
    files.write_job(job)
    screen = TrainingScreen(job)

    with Live(screen.render(), console=out, refresh_per_second=2, transient=False) as live:
        def on_event(event: TrainingEvent) -> None:
            screen.update(event)
            live.update(screen.render())

        job = run_in_foreground(job, files, LocalTrlBackend(), on_event,
                                resume_attempts=settings.trainer_resume_attempts,
                                resume_from=resume)
    files.write_job(job)
    if job.status is JobStatus.SUCCEEDED:
        return job, read_results(files)
    if job.status is JobStatus.CANCELLED:
        out.print(f"[yellow]Cancelled[/yellow] at step {job.step}: the last checkpoint is kept "
                  f"in {files.checkpoints}; run the same command again to resume.")
        return job, None
    fail(f"training failed: {job.error or 'see ' + str(files.worker_log)}")
    raise AssertionError("unreachable")


def _read_json(path: Path) -> dict[str, Any]:
    import json

    if not path.is_file():
        fail(f"{path} is missing: run the journey through step G first (rft run ... --until G)")
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        fail(f"{path} holds no grader config (a JSON object)")
    return value


def _artifacts(run_dir: Path, out: Console) -> None:
    from rft_trainer_gateway.job_files import JobFiles

    files = JobFiles(run_dir)
    for path in (files.events, files.reward_curves, files.checkpoints, files.results,
                 files.comparison, files.tensorboard):
        if path.exists():
            out.print(f"  {path}")


def train(
    run_dir: RunDir,
    max_steps: Annotated[int | None, typer.Option(help="optimizer steps (default: sized "
                                                       "to the machine)")] = None,
    base_model: Annotated[str | None, typer.Option(help="a checkpoint dir or cached HF name; "
                                                        "default the local SmolLM2-135M")] = None,
    backend: Annotated[TrainingBackendName, typer.Option()] = TrainingBackendName.TRL,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    samples_per_prompt: Annotated[int | None, typer.Option("--k", help="k per prompt")] = None,
    prompts_per_step: Annotated[int | None, typer.Option()] = None,
    max_completion_tokens: Annotated[int | None, typer.Option()] = None,
    learning_rate: Annotated[float | None, typer.Option()] = None,
    adapter: Annotated[AdapterKind | None, typer.Option()] = None,
    eval_every: Annotated[int | None, typer.Option(help="valid reward every N steps")] = None,
    eval_prompts: Annotated[int | None, typer.Option()] = None,
    budget_minutes: Annotated[float | None, typer.Option(help="wall-clock budget")] = None,
    tool_choice: Annotated[str | None, typer.Option(
        help="auto, or required when the agent always calls a tool (its answers are opened as "
             "a call in training, evaluation and serving)")] = None,
    dataset: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Step I: train on the run's split with its grader as the reward (GRPO), live."""
    overrides = {"max_steps": max_steps, "samples_per_prompt": samples_per_prompt,
                 "prompts_per_step": prompts_per_step,
                 "max_completion_tokens": max_completion_tokens,
                 "learning_rate": learning_rate, "adapter": adapter,
                 "eval_every_steps": eval_every, "eval_prompts": eval_prompts,
                 "wall_clock_budget_s": budget_minutes * 60 if budget_minutes else None,
                 "tool_choice": tool_choice}
    _, results = train_run_dir(run_dir, dataset=dataset, base_model=base_model,
                               backend=backend, device=device, overrides=overrides)
    if results is not None:
        print_results(results, console)
    _artifacts(run_dir, console)


def results(run_dir: RunDir) -> None:
    """Step J: the before/after comparison of a finished training."""
    from rft_trainer_gateway.deploy import DeployError, read_results
    from rft_trainer_gateway.job_files import JobFiles

    try:
        print_results(read_results(JobFiles(run_dir)), console)
    except DeployError as exc:
        fail(str(exc))


def deploy(
    run_dir: RunDir,
    target: Annotated[DeployTarget, typer.Option()] = DeployTarget.EXPORT,
    base_url: Annotated[str | None, typer.Option(help="the vLLM or local server (…/v1)")] = None,
    model_name: Annotated[str | None, typer.Option()] = None,
    export_dir: Annotated[Path | None, typer.Option()] = None,
    force: Annotated[bool, typer.Option(help="deploy although the gate is closed")] = False,
    reason: Annotated[str | None, typer.Option(help="why, when forced (recorded)")] = None,
) -> None:
    """Step J: deploy the best checkpoint (gated by the results)."""
    from pydantic import ValidationError

    from rft_trainer_gateway.deploy import DeployError, deploy_job
    from rft_trainer_gateway.job_files import JobFiles

    try:
        request = DeployRequest(target=target, base_url=base_url, model_name=model_name,
                                export_dir=str(export_dir) if export_dir else None,
                                force=force, reason=reason)
    except ValidationError as exc:
        fail(exc.errors()[0]["msg"])
    try:
        result = deploy_job(JobFiles(run_dir), request)
    except DeployError as exc:
        fail(str(exc))
    console.print(f"Deployed [bold]{inert(result.model_name)}[/bold] to {result.target.value}: "
                  f"{inert(result.location)} (confirmed: {result.confirmed})"
                  + (f"; reply {inert(result.reply_excerpt)}" if result.reply_excerpt else ""))
    if result.forced:
        console.print(f"[yellow]Forced past a closed gate[/yellow]: {inert(result.reason or '')}")


def train_step(context: JourneyContext) -> None:
    job, results = train_run_dir(context.out_dir, dataset=context.dataset, out=context.console)
    context.results["I"] = job
    if results is not None:
        context.results["J"] = results
    for artifact in (TRAINING_EVENTS, REWARD_CURVES, CHECKPOINTS):
        path = artifact.path(context.out_dir)
        if path.exists():
            context.artifacts[artifact.name] = path


def results_step(context: JourneyContext) -> None:
    from rft_trainer_gateway.deploy import DeployGateClosed, deploy_job
    from rft_trainer_gateway.job_files import JobFiles

    results = context.results.get("J")
    if results is None:
        context.console.print("[yellow]No results: the training did not finish.[/yellow]")
        return
    print_results(results, context.console)
    files = JobFiles(context.out_dir)
    for path in (files.results, files.comparison):
        context.artifacts[path.name] = path
    try:
        exported = deploy_job(files, DeployRequest(target=DeployTarget.EXPORT))
    except DeployGateClosed:
        context.console.print(
            "Not exported: the gate is closed. To ship anyway: rft deploy "
            f"{context.out_dir} --force --reason '...'")
        return
    context.artifacts[EXPORT.name] = Path(exported.location)
    context.console.print(f"Exported the tuned model to {exported.location}; serve it with "
                          f"rft deploy {context.out_dir} --target local --base-url …/v1")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(results)
    app.command()(deploy)
