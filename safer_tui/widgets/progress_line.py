"""One line saying what a background worker is doing, with a bar; hidden when idle.

Engine functions report `(task, done, total)` from a worker thread; `reporter` turns that
into calls on the UI thread, so the interface keeps drawing while the work runs.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, ProgressBar

from safer_engine.progress import Progress


class ProgressLine(Horizontal):
    DEFAULT_CSS = """
    ProgressLine {
        height: 1;
        padding: 0 1;
        display: none;
        &.busy { display: block; }
        & > Label { width: auto; margin-right: 2; }
    }
    """

    class Advanced(Message):
        def __init__(self, done: int, total: int | None, task: str | None = None) -> None:
            super().__init__()
            self.done, self.total, self.task = done, total, task

    def on_progress_line_advanced(self, message: Advanced) -> None:
        if message.task is not None and self.busy:
            self.what = message.task
            self.query_one(Label).update(self.label(message.task))
        self.advance(message.done, message.total)

    def compose(self) -> ComposeResult:
        yield Label()
        yield ProgressBar(show_eta=False)

    hint = "Esc cancels"
    what = ""
    counted = False

    def start(self, what: str, hint: str = "Esc cancels", counted: bool = False) -> None:
        """`counted`: the steps mean something to a reader (features judged, not chunks of
        codes), so the line says how many are done of how many."""
        self.hint, self.what, self.counted = hint, what, counted
        self.query_one(Label).update(self.label(what))
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.add_class("busy")

    def label(self, what: str, count: str = "") -> str:
        return " · ".join(part for part in (what, count, self.hint) if part)

    def advance(self, done: int, total: int | None) -> None:
        if self.counted and total and self.busy:
            self.query_one(Label).update(self.label(self.what, f"{done:,} of {total:,}"))
        self.query_one(ProgressBar).update(total=total, progress=done)

    def finish(self) -> None:
        self.remove_class("busy")

    @property
    def busy(self) -> bool:
        return self.has_class("busy")


def reporter(line: ProgressLine) -> Progress:
    """A `Progress` for engine code running in a thread worker, drawn on `line`. Posting
    never waits for the UI (`call_from_thread` would), so a worker reporting while the app
    shuts down cannot hang."""

    def report(task: str, done: int, total: int | None) -> None:
        line.post_message(ProgressLine.Advanced(done, total))

    return report
