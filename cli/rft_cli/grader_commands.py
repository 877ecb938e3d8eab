"""`rft grader validate|run|preview` (step G), `rft dryrun` and the journey's step H.

Register on the main app with ``register(app)``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rft_cli.journey_context import JourneyContext
from rft_cli.progress import record_progress
from rft_grader import GraderConfigError, Sample, build_grader
from rft_grader.dryrun import (
    DryRunPrompt,
    DryRunSettings,
    dry_run_files,
    load_prompts,
    render_dry_run_screen,
)
from rft_grader.dryrun.batch import load_grader
from rft_grader.graders.base import grade_many
from rft_grader.judging import JudgeClient
from rft_grader.llm_judge import LLMJudge
from rft_grader.openai_endpoints import judge_models, run_endpoint, validate_endpoint
from rft_grader.presets import (
    build_preset,
    preset_for_rows,
    write_grader_config,
)
from rft_grader.red_team import RedTeamReport, red_team_config, red_team_items
from rft_runtime.llm import LLMClient, LLMSettings, llm_endpoint
from rft_schemas import ToolCall
from rft_schemas.artifacts import GRADER_CONFIG, RED_TEAM_REPORT, SANITIZED_PROMPTS, TRAIN_SPLIT
from rft_schemas.grader import GraderConfig, GraderRunRequest

grader_app = typer.Typer(help="Step G: check and try grader configs (OpenAI's grader JSON).",
                         no_args_is_help=True)
console = Console()


def _grader_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise typer.BadParameter(f"no such grader file: {path}")
    try:
        return load_grader(path)
    except ValueError as error:
        raise typer.BadParameter(f"{path}: {error}") from None


def _inner(grader: dict[str, Any]) -> dict[str, Any]:
    return grader["grader"] if "grader" in grader and "type" not in grader else grader


def _print_issues(issues: list[Any]) -> None:
    table = Table("where", "code", "problem", title="grader config refused")
    for issue in issues:
        where = issue.path + (f" (at {issue.position})" if issue.position is not None else "")
        table.add_row(where, issue.code, issue.message)
    console.print(table)


@contextmanager
def _judge_for(grader: dict[str, Any]) -> Iterator[tuple[JudgeClient | None, LLMClient | None]]:
    """A judge over the LLM runtime when the grader has model graders (the local model is
    started when no endpoint is configured); none otherwise."""
    config = GraderConfig.model_validate({"grader": _inner(grader)})
    if not judge_models(config.grader):
        yield None, None
        return
    with llm_endpoint(LLMSettings()) as endpoint:
        client = LLMClient(endpoint)
        settings = DryRunSettings()
        yield LLMJudge(client, model=settings.grader_judge_model,
                       max_tokens=settings.grader_judge_max_tokens), client


@grader_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="grader_config.json or one grader")],
    prompts: Annotated[Path | None, typer.Option(
        help="a train split or sanitized prompts: templates must name their item fields")] = None,
) -> None:
    """Check a grader config; each problem is printed with its JSON path. Exit 1 if invalid."""
    grader = _grader_json(file)
    fields = None
    if prompts is not None:
        loaded, _ = load_prompts(prompts)
        fields = sorted({key for p in loaded for key in p.item})
    response = validate_endpoint(grader, fields)
    if response.issues:
        _print_issues(response.issues)
        raise typer.Exit(1)
    console.print(f"[green]valid[/green]: {_inner(grader).get('type')} grader "
                  f"{_inner(grader).get('name')!r}")


@grader_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="grader_config.json or one grader")],
    sample: Annotated[str, typer.Option("--sample", help="the model's answer to grade")],
    item: Annotated[str, typer.Option("--item", help="the dataset row, a JSON object")] = "{}",
    tools: Annotated[str, typer.Option(help="the answer's tool calls, a JSON list")] = "[]",
) -> None:
    """Grade one answer as OpenAI's run endpoint does: reward, sub_rewards, errors, usage."""
    grader = _grader_json(file)
    try:
        item_value = json.loads(item)
        calls = [ToolCall.model_validate(c) for c in json.loads(tools)]
    except ValueError as error:
        raise typer.BadParameter(f"--item/--tools: {error}") from None
    if not isinstance(item_value, dict):
        raise typer.BadParameter("--item must be a JSON object")
    issues = validate_endpoint(grader).issues
    if issues:
        _print_issues(issues)
        raise typer.Exit(1)
    request = GraderRunRequest(grader=_inner(grader), model_sample=sample, item=item_value,
                               output_tools=calls)
    with _judge_for(grader) as (judge, _):
        response = asyncio.run(run_endpoint(request, judge=judge, settings=DryRunSettings()))
    console.print_json(response.model_dump_json())


@grader_app.command("preview")
def preview(
    file: Annotated[Path, typer.Argument(help="grader_config.json or one grader")],
    prompts: Annotated[Path, typer.Option("--prompts", help="train split or sanitized prompts")],
    count: Annotated[int, typer.Option("-n", min=1, help="prompts to score")] = 5,
) -> None:
    """Score the reference continuations of a few prompts: a good grader pays them well."""
    grader = _grader_json(file)
    loaded, _ = load_prompts(prompts)
    chosen = [p for p in loaded if p.item.get("reference") or p.item.get("reference_tool_calls")]
    if not chosen:
        raise typer.BadParameter(f"{prompts} has no prompt with a reference continuation")
    chosen = chosen[:count]
    pairs = []
    for prompt in chosen:
        calls = [ToolCall.model_validate(c) for c in prompt.item.get("reference_tool_calls") or []]
        pairs.append((Sample(str(prompt.item.get("reference") or ""), calls), prompt.item))
    with _judge_for(grader) as (judge, _):
        try:
            built = build_grader(grader, judge=judge, settings=DryRunSettings())
        except GraderConfigError as error:
            _print_issues(error.issues)
            raise typer.Exit(1) from None
        try:
            results = asyncio.run(grade_many(built, pairs))
        finally:
            built.close()
    table = Table("prompt", "reference", "reward", "sub_rewards", "errors",
                  title=f"{built.name}: reference continuations")
    for prompt, (sample, _), result in zip(chosen, pairs, results, strict=True):
        shown = sample.output_text or json.dumps([c.model_dump(mode="json", exclude_none=True)
                                                  for c in sample.output_tools])
        flags = ", ".join(k for k, v in result.errors.flags().items() if v)
        table.add_row(prompt.id[:16], shown[:60], f"{result.reward:.2f}",
                      ", ".join(f"{k} {v:.2f}" for k, v in result.sub_rewards.items()), flags)
    console.print(table)
    mean = sum(r.reward for r in results) / len(results)
    console.print(f"mean reward of the references: {mean:.2f}")


def red_team_prompts(grader: dict[str, Any], prompts: list[DryRunPrompt], count: int,
                     runs: int | None) -> RedTeamReport:
    """The grader against exploit answers built from ``count`` of ``prompts``; its judges (if
    any) grade one reference ``runs`` times (default: the setting) for their spread."""
    if not prompts:
        raise typer.BadParameter("no prompts to build exploit answers from")
    items = red_team_items([p.item for p in prompts], count)
    settings = DryRunSettings()
    with _judge_for(grader) as (judge, _):
        if runs is None:
            runs = settings.grader_consistency_runs if judge is not None else 0
        return asyncio.run(red_team_config(grader, items, judge=judge, settings=settings,
                                           consistency_runs=runs))


def write_red_team(report: RedTeamReport, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = RED_TEAM_REPORT.path(out_dir)
    path.write_text(report.model_dump_json(indent=2) + "\n")
    return path


def render_red_team(report: RedTeamReport) -> Table:
    table = Table("exploit", "samples", "mean reward", "max reward", "verdict", "best-paid answer",
                  title=f"Red team: {report.grader_name} (flagged above {report.threshold:.2f})")
    for exploit in report.exploits:
        shown = exploit.best_paid_answer or json.dumps(exploit.best_paid_tools)
        verdict = "[red]PAYS THE EXPLOIT[/red]" if exploit.flagged else "[green]ok[/green]"
        table.add_row(exploit.kind, str(exploit.samples), f"{exploit.mean_reward:.2f}",
                      f"{exploit.max_reward:.2f}", verdict, " ".join(shown.split())[:60])
    if report.consistency is not None:
        c = report.consistency
        table.caption = (f"judge self-consistency: {c.runs} runs of one reference, mean "
                         f"{c.mean:.2f}, std {c.std:.2f}, spread {c.spread:.2f}, {c.errors} errors")
    return table


@grader_app.command("red-team")
def red_team_command(
    file: Annotated[Path, typer.Argument(help="grader_config.json or one grader")],
    prompts: Annotated[Path, typer.Option("--prompts", help="train split or sanitized prompts")],
    count: Annotated[int, typer.Option("-n", min=1, help="rows to build exploits from")] = 8,
    runs: Annotated[int | None, typer.Option(
        "--consistency-runs", min=0,
        help="times one reference is judged (model graders); default: the setting")] = None,
    out: Annotated[Path | None, typer.Option(help="write red_team_report.json here")] = None,
) -> None:
    """Score answers that game the grader (empty, prompt copy, format shells, padding, refusal,
    wrong tool) and the spread of its judges. Exit 2 when an exploit is paid."""
    grader = _grader_json(file)
    issues = validate_endpoint(grader).issues
    if issues:
        _print_issues(issues)
        raise typer.Exit(1)
    loaded, _ = load_prompts(prompts)
    report = red_team_prompts(grader, loaded, count, runs)
    console.print(render_red_team(report))
    if out is not None:
        write_red_team(report, out)
    if report.flagged:
        raise typer.Exit(2)


def dryrun(
    prompts: Annotated[Path, typer.Argument(help="rft_prompts.train.jsonl (or sanitized "
                                                 "prompts)")],
    grader: Annotated[Path | None, typer.Option(
        "--grader", help="grader_config.json; default: the preset the data calls for")] = None,
    out: Annotated[Path, typer.Option("--out", help="where the report and chart go")] = Path(
        "out"),
    n: Annotated[int | None, typer.Option(
        "-n", min=1, help="prompts, stratified by topic; default by backend: 200 on an endpoint, "
                          "8 on the local CPU model")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="samples per prompt")] = 2,
    max_tokens: Annotated[int | None, typer.Option(
        min=1, help="per rollout; default by backend: 256, or 32 locally")] = None,
    prune: Annotated[bool, typer.Option(
        help="also write the split without its all-pass and all-fail prompts")] = False,
) -> None:
    """Step H: roll out the base model on N prompts x k, score, and print GO or NO-GO."""
    if not prompts.is_file():
        raise typer.BadParameter(f"no such prompts file: {prompts}")
    config = _grader_json(grader) if grader is not None else None
    if config is not None:
        issues = validate_endpoint(config).issues
        if issues:
            _print_issues(issues)
            raise typer.Exit(1)
    update: dict[str, Any] = {"dryrun_samples_per_prompt": k}
    if n is not None:
        update["dryrun_prompts"] = n
    if max_tokens is not None:
        update["dryrun_max_tokens"] = max_tokens
    settings = DryRunSettings().model_copy(update=update)
    _print_size(console, settings)
    with record_progress(console, "Rolling out and scoring") as advance:
        try:
            outcome = dry_run_files(prompts, out, settings, grader=config, prune=prune,
                                    progress=advance)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    _print_outcome(console, outcome)


def _print_size(target: Console, settings: DryRunSettings) -> None:
    """The run's size, and that it follows the backend when it does: a default must fit."""
    size = settings.size(LLMSettings())
    target.print(f"Dry run: {size.describe()}.", markup=False, highlight=False, soft_wrap=True)


def _print_outcome(target: Console, outcome: Any) -> None:
    if outcome.preset:
        target.print(f"grader: the {outcome.preset} preset (grader_config.json)")
    if outcome.bad_lines:
        target.print(f"[yellow]{len(outcome.bad_lines)} lines of the prompts file are not "
                     f"prompts (first: line {outcome.bad_lines[0].line}: "
                     f"{outcome.bad_lines[0].reason})[/yellow]")
    target.print(render_dry_run_screen(outcome.report), markup=False, highlight=False)
    if outcome.pruned is not None:
        kept, dropped = outcome.pruned
        target.print(f"pruned split: kept {kept}, dropped {dropped} all-pass/all-fail prompts")
    for name, path in outcome.artifacts.items():
        target.print(f"{name}: {path}")


PRESET_DIMENSIONS = {
    "tool_usage": ["tool_selection (40%) - Right tool?", "tool_input (30%) - Valid parameters?",
                   "result_usage (30%) - Used correctly?"],
    "correctness": ["correctness - Factual accuracy via LLM judge"],
    "format_compliance": ["format_compliance - JSON validity, schema match"],
    "conciseness": ["conciseness - Length + completeness balance"],
}


def _train_split(context: JourneyContext) -> Path:
    split = context.artifacts.get(TRAIN_SPLIT.name) or context.artifacts.get(
        SANITIZED_PROMPTS.name)
    if split is None:
        raise RuntimeError(f"steps G and H need {TRAIN_SPLIT.name} (or sanitized prompts)")
    return split


def grader_step(context: JourneyContext) -> None:
    """Step G in `rft run`: the preset the data calls for (tool usage when the prompts carry
    tools, correctness otherwise), written as grader_config.json."""
    split = _train_split(context)
    prompts, _ = load_prompts(split)
    # The grader service's step G (POST /v1/graders:preset): the preset the rows call for,
    # with the issues of its templates against the fields the rows carry (a field they lack
    # would score every sample as a template error).
    chosen = preset_for_rows([p.item for p in prompts])
    preset, config = chosen.preset, chosen.config
    if chosen.issues:
        problems = "; ".join(f"{i.path}: {i.message}" for i in chosen.issues)
        raise RuntimeError(f"the {preset} preset does not fit {split.name}: {problems}")
    path = write_grader_config(build_preset(preset), context.out_dir)
    context.console.print(f"Preset: {preset.replace('_', ' ')} (chosen from the data)")
    for line in PRESET_DIMENSIONS[preset]:
        context.console.print(f"  • {line}")
    context.artifacts[GRADER_CONFIG.name] = path
    report = red_team_prompts(config, prompts, DryRunSettings().grader_red_team_items, None)
    context.console.print(render_red_team(report))
    context.artifacts[RED_TEAM_REPORT.name] = write_red_team(report, context.out_dir)
    if report.flagged:
        context.console.print("[yellow]The grader pays an exploit: review it before training "
                              f"({RED_TEAM_REPORT.name}).[/yellow]")


def dry_run_step(context: JourneyContext) -> None:
    """Step H in `rft run`: the dry run verdict, with step G's grader_config.json (or, run
    alone, the preset the data calls for)."""
    split = _train_split(context)
    config_path = context.artifacts.get(GRADER_CONFIG.name)
    grader = load_grader(config_path) if config_path is not None else None
    settings = DryRunSettings(data_dir=context.settings.data_dir)
    _print_size(context.console, settings)
    with record_progress(context.console, "Rolling out and scoring") as advance:
        outcome = dry_run_files(split, context.out_dir, settings, grader=grader,
                                dataset=context.dataset, progress=advance)
    _print_outcome(context.console, outcome)
    context.results["dry_run"] = outcome.report
    context.artifacts.update(outcome.artifacts)


def register(app: typer.Typer) -> None:
    """``rft grader ...`` and ``rft dryrun`` on the main app."""
    app.add_typer(grader_app, name="grader")
    app.command("dryrun")(dryrun)
