"""The dry run's core, in one process (`rft dryrun`, `rft run`): sample, roll out concurrently,
score, report; and the files it leaves: dry_run_report.json, dry_run.png, a pruned train split.
The service's durable jobs (``durable_jobs``) use its job id and writers."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rft_grader.dryrun.chart import write_chart
from rft_grader.dryrun.diagnosis import Thresholds, build_report
from rft_grader.dryrun.prompts import DryRunPrompt, parse_prompt, stratified_sample
from rft_grader.dryrun.rollouts import (
    GraderCache,
    failed_score,
    grader_name,
    rollout_and_score,
    rollout_requests,
)
from rft_grader.dryrun.settings import DryRunSettings
from rft_runtime.llm import LLMClient, LLMError
from rft_schemas.artifacts import DRY_RUN_CHART, DRY_RUN_REPORT
from rft_schemas.rollouts import DryRunReport, RolloutRequest, Score

Progress = Callable[[int], None]


def job_id_for(dataset: str, prompts: list[DryRunPrompt], grader: dict[str, Any], k: int,
               model: str, settings: DryRunSettings) -> str:
    """The same run asked again is the same job (and the same rollout ids)."""
    spec = json.dumps({"dataset": dataset, "prompts": sorted(p.id for p in prompts),
                       "grader": grader, "k": k, "model": model,
                       "max_tokens": settings.dryrun_max_tokens,
                       "temperature": settings.dryrun_temperature, "seed": settings.dryrun_seed,
                       # only when set: the jobs of runs that never set it keep their ids
                       **({"tool_choice": settings.dryrun_tool_choice}
                          if settings.dryrun_tool_choice != "auto" else {})},
                      sort_keys=True)
    return "dr-" + hashlib.sha256(spec.encode()).hexdigest()[:16]


def thresholds(settings: DryRunSettings) -> Thresholds:
    return Thresholds(max_flat_share=settings.dryrun_max_flat_share,
                      max_error_share=settings.dryrun_max_error_share)


async def score_requests(client: LLMClient, graders: GraderCache,
                         requests: list[RolloutRequest], concurrency: int,
                         progress: Progress | None = None) -> list[Score]:
    """Every request at once, ``concurrency`` in flight: the server batches what it is given.
    A rollout the model never answered is a Score with ``rollout_error``; the run goes on."""
    limit = asyncio.Semaphore(concurrency)

    async def one(request: RolloutRequest) -> Score:
        async with limit:
            try:
                score = await rollout_and_score(client, graders, request)
            except LLMError as error:
                score = failed_score(request, str(error))
        if progress is not None:
            progress(1)
        return score

    return list(await asyncio.gather(*(one(r) for r in requests)))


async def run_dry_run(prompts: list[DryRunPrompt], grader: dict[str, Any], client: LLMClient,
                      settings: DryRunSettings, *, dataset: str, graders: GraderCache,
                      progress: Progress | None = None) -> DryRunReport:
    size = settings.size(client.settings)
    settings = settings.sized(client.settings)  # the job's id names the answer length used
    chosen = stratified_sample(prompts, size.prompts, settings.dryrun_seed)
    k = settings.dryrun_samples_per_prompt
    job_id = job_id_for(dataset, chosen, grader, k, client.model, settings)
    requests = rollout_requests(job_id, chosen, k=k, model=client.model, grader=grader,
                                max_tokens=size.max_tokens,
                                temperature=settings.dryrun_temperature, seed=settings.dryrun_seed,
                                tool_choice=settings.dryrun_tool_choice)
    scores = await score_requests(client, graders, requests, size.concurrency, progress)
    return build_report(job_id=job_id, dataset=dataset, model=client.model,
                        grader_name=grader_name(grader), samples_per_prompt=k, scores=scores,
                        bins=settings.dryrun_histogram_bins, thresholds=thresholds(settings))


def write_outputs(report: DryRunReport, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = DRY_RUN_REPORT.path(out_dir)
    partial = json_path.with_suffix(".partial")
    partial.write_text(report.model_dump_json(indent=2) + "\n")
    partial.replace(json_path)
    png_path = write_chart(report, DRY_RUN_CHART.path(out_dir))
    return {DRY_RUN_REPORT.name: json_path, DRY_RUN_CHART.name: png_path}


def prune_split(split: Path, report: DryRunReport, out: Path) -> tuple[int, int]:
    """Copy ``split`` to ``out`` without the prompts that were all-pass or all-fail in the dry
    run (they give GRPO no signal); lines are copied byte for byte. Returns (kept, dropped)."""
    drop = set(report.all_pass_prompt_ids) | set(report.all_fail_prompt_ids)
    kept = dropped = 0
    with split.open("rb") as source, out.open("wb") as sink:
        for raw in source:
            if not raw.strip():
                continue
            if _prompt_id(raw) in drop:
                dropped += 1
                continue
            sink.write(raw if raw.endswith(b"\n") else raw + b"\n")
            kept += 1
    return kept, dropped


def _prompt_id(raw: bytes) -> str | None:
    try:
        record = json.loads(raw)
        return parse_prompt(record).id if isinstance(record, dict) else None
    except (ValueError, RecursionError):
        return None  # not a prompt: kept, the split step reports bad lines
