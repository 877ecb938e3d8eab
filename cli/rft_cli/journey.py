"""The journey A to J as an ordered list of steps; `rft run` executes them in one process.

Each step calls the same stage core the streaming services run. A step whose service is not
built yet has ``run=None``: `rft run` stops before it and says so, rather than pretending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rft_cli.generate_commands import generate_step, split_step
from rft_cli.grader_commands import dry_run_step, grader_step
from rft_cli.journey_context import JourneyContext
from rft_cli.steps import sanitize_step
from rft_cli.topics_commands import categorize_step, coverage_step, topics_step
from rft_cli.train_commands import results_step, train_step

__all__ = ["JourneyContext", "JourneyStep", "build_steps", "run_journey"]


@dataclass(frozen=True)
class JourneyStep:
    letter: str
    title: str
    run: Callable[[JourneyContext], None] | None


def build_steps() -> list[JourneyStep]:
    return [
        JourneyStep("A", "Sanitize data", sanitize_step),
        JourneyStep("B", "Define topics", topics_step),
        JourneyStep("C", "Categorize records", categorize_step),
        JourneyStep("D", "Review coverage", coverage_step),
        JourneyStep("E", "Generate samples", generate_step),
        JourneyStep("F", "Final distribution and split", split_step),
        JourneyStep("G", "Define grader", grader_step),
        JourneyStep("H", "Dry run", dry_run_step),
        JourneyStep("I", "Train", train_step),
        JourneyStep("J", "Results and deploy", results_step),
    ]


def run_journey(context: JourneyContext, until: str = "J") -> list[str]:
    """Run steps in order through ``until``; return the letters that ran."""
    ran: list[str] = []
    for step in build_steps():
        if step.letter > until:
            break
        if step.run is None:
            context.console.print(
                f"[yellow]Step {step.letter} ({step.title}) and the steps after it are not "
                f"built yet: stopping after step {ran[-1] if ran else '-'}.[/yellow]"
            )
            break
        context.console.rule(f"Step {step.letter}: {step.title}")
        step.run(context)
        ran.append(step.letter)
    return ran
