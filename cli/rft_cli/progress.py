"""Progress display (rich) for batch runners that report how many records they have done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


@contextmanager
def record_progress(
    console: Console, label: str, total: int | None = None
) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; the bar shows records done (of ``total`` when it is known)."""
    columns = [SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)

        def advance(records: int) -> None:
            progress.update(task, advance=records)

        yield advance
