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
    shown = {"task": ""}

    def update(task: str, done: int, total: int | None) -> None:
        bar.update(task_id, description=f"{title}: {task}", completed=done, total=total)
        # Logs and CI get no live bar: one line per new task tells them what is going on.
        if not console.is_terminal and task != shown["task"]:
            shown["task"] = task
            console.print(f"{title}: {task}…", highlight=False)

    with bar:
        yield update
