"""What a journey step reads and writes: the run's inputs, settings and console, and the
artifacts and results the steps before it left. Its own module, which the step modules and
:mod:`rft_cli.journey` (which lists them) both import, so that neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from rft_runtime.settings import RuntimeSettings


@dataclass
class JourneyContext:
    inputs: list[Path]
    out_dir: Path
    dataset: str
    settings: RuntimeSettings
    console: Console
    artifacts: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
