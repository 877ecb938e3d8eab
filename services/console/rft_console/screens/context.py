"""What every screen's routes share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Path

from rft_console.rendering import Pages
from rft_console.settings import ConsoleSettings
from rft_console.upstream import Upstream
from rft_schemas.names import DATASET_NAME_PATTERN

Dataset = Annotated[str, Path(pattern=DATASET_NAME_PATTERN)]


@dataclass(frozen=True)
class Console:
    upstream: Upstream
    pages: Pages
    settings: ConsoleSettings
