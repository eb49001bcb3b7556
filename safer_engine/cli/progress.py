"""Render engine progress callbacks with rich, on stderr."""

from __future__ import annotations

from collections.abc import Iterator
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

from safer_engine.progress import Progress as ProgressCallback


@contextmanager
def rich_progress(console: Console, title: str) -> Iterator[ProgressCallback]:
    """Yield a progress callback drawing one bar whose label follows the current task."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task_id = bar.add_task(title, total=None)

    def update(task: str, done: int, total: int | None) -> None:
        bar.update(task_id, description=f"{title}: {task}", completed=done, total=total)

    with bar:
        yield update
