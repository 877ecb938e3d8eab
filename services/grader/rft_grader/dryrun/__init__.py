"""Step H, the dry run: roll out the base model on sampled train prompts, score, diagnose."""

from rft_grader.dryrun.batch import DryRunOutcome, dry_run_files, preset_for
from rft_grader.dryrun.core import prune_split, run_dry_run, write_outputs
from rft_grader.dryrun.diagnosis import build_report, diagnose
from rft_grader.dryrun.prompts import DryRunPrompt, load_prompts, parse_prompt, stratified_sample
from rft_grader.dryrun.screen import render_dry_run_screen
from rft_grader.dryrun.settings import DryRunSettings

__all__ = [
    "DryRunOutcome", "DryRunPrompt", "DryRunSettings", "build_report", "diagnose",
    "dry_run_files", "load_prompts", "parse_prompt", "preset_for", "prune_split",
    "render_dry_run_screen", "run_dry_run", "stratified_sample", "write_outputs",
]
