"""The dry run over files, as `rft dryrun` and `rft run` call it: a train split in, the
grader config (given, or the preset the data calls for), the report, the chart and,
optionally, the pruned split out. Starts the local model when no endpoint is configured."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rft_grader.dryrun.core import Progress, prune_split, run_dry_run, write_outputs
from rft_grader.dryrun.prompts import BadLine, DryRunPrompt, load_prompts
from rft_grader.dryrun.rollouts import GraderCache
from rft_grader.dryrun.settings import DryRunSettings
from rft_grader.llm_judge import LLMJudge
from rft_grader.presets import (
    build_preset,
    choose_preset,
    grader_config_json,
    write_grader_config,
)
from rft_runtime.llm import LLMClient, LLMSettings, llm_endpoint
from rft_schemas.rollouts import DryRunReport


@dataclass
class DryRunOutcome:
    report: DryRunReport
    artifacts: dict[str, Path]
    bad_lines: list[BadLine] = field(default_factory=list)
    preset: str | None = None
    pruned: tuple[int, int] | None = None  # (kept, dropped)


# Step G's choice, kept under its old name for the dry run's callers.
preset_for = choose_preset


def load_grader(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds no grader config (a JSON object)")
    return value


def dry_run_files(prompts_path: Path, out_dir: Path, settings: DryRunSettings, *,
                  grader: dict[str, Any] | None = None, dataset: str | None = None,
                  llm: LLMSettings | None = None, prune: bool = False,
                  progress: Progress | None = None) -> DryRunOutcome:
    prompts, bad = load_prompts(prompts_path)
    if not prompts:
        raise ValueError(f"{prompts_path} holds no usable prompt ({len(bad)} bad lines)")
    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, Path] = {}
    preset = None
    if grader is None:
        preset = choose_preset(prompts)
        config = build_preset(preset)
        path = write_grader_config(config, out_dir)
        artifacts[path.name] = path
        grader = json.loads(grader_config_json(config))
    with llm_endpoint(llm or LLMSettings()) as endpoint:
        report = asyncio.run(_run(prompts, grader, settings, endpoint,
                                  dataset or prompts_path.stem, progress))
    artifacts.update(write_outputs(report, out_dir))
    pruned = None
    if prune:
        target = out_dir / (prompts_path.name.removesuffix(".jsonl") + ".pruned.jsonl")
        pruned = prune_split(prompts_path, report, target)
        artifacts[target.name] = target
    return DryRunOutcome(report, artifacts, bad, preset, pruned)


async def _run(prompts: list[DryRunPrompt], grader: dict[str, Any], settings: DryRunSettings,
               llm: LLMSettings, dataset: str, progress: Progress | None) -> DryRunReport:
    async with LLMClient(llm) as client:
        judge = LLMJudge(client, model=settings.grader_judge_model,
                         max_tokens=settings.grader_judge_max_tokens)
        graders = GraderCache(judge=judge, settings=settings)
        try:
            return await run_dry_run(prompts, grader, client, settings, dataset=dataset,
                                     graders=graders, progress=progress)
        finally:
            graders.close()
