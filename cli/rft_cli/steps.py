"""The journey steps as `rft run` executes them, each a call into its service's batch runner."""

from __future__ import annotations

from rft_cli.journey_context import JourneyContext
from rft_cli.progress import record_progress
from rft_sanitizer import SanitizerSettings, render_report_screen, sanitize_files
from rft_schemas.artifacts import REJECTED, SANITIZE_REPORT, SANITIZED_PROMPTS, paths


def sanitize_step(context: JourneyContext) -> None:
    settings = SanitizerSettings(dataset=context.dataset, data_dir=context.settings.data_dir)
    with record_progress(context.console, "Sanitizing records") as advance:
        report = sanitize_files(context.inputs, context.out_dir, settings, progress=advance)
    context.console.print(render_report_screen(report, context.out_dir))
    context.results["sanitize"] = report
    context.artifacts.update(paths(context.out_dir, SANITIZED_PROMPTS, REJECTED, SANITIZE_REPORT))
