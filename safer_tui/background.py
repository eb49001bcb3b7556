"""Background work, one way for every screen and the app: a thread worker that reports
progress to a `ProgressLine`, hands its result or its `SaferError` back on the UI thread, and
stops through a `CancelToken`.

Results come back with `call_later`, which posts and never waits for the UI (as
`call_from_thread` would), so work that ends while the app shuts down cannot hang it; a
screen that is gone by then drops them. Starting one `Background` again supersedes its run
before: that run is cancelled and whatever it still returns is dropped, so the newest run
alone draws on the line. An error that is not a `SaferError` is a bug and ends the app with
its traceback, as Textual's workers do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from textual.app import App
from textual.widget import Widget

from safer_engine.errors import Cancelled, SaferError
from safer_engine.progress import CancelToken, Progress
from safer_tui.errors import show_error
from safer_tui.widgets.progress_line import ProgressLine, reporter

T = TypeVar("T")
Work = Callable[[Progress, CancelToken], T]


def unreported(task: str, done: int, total: int | None) -> None:
    """The progress of work that has no line to draw it on."""


class Background(Generic[T]):
    """One kind of background work of its owner (a screen, or the app), at most one run at
    a time. `done` gets the result, `failed` a `SaferError` (by default shown as every
    error is), `cancelled` the `Cancelled` that ended a cancelled run (by default nothing:
    whoever cancelled knows). The progress line, when given, is finished before either."""

    def __init__(
        self,
        owner: Widget | App[Any],
        name: str,
        done: Callable[[T], object],
        failed: Callable[[SaferError], object] | None = None,
        cancelled: Callable[[Cancelled], object] | None = None,
    ) -> None:
        self.owner, self.name = owner, name
        self.done = done
        self.failed = failed or (lambda exc: show_error(owner, exc))
        self.cancelled = cancelled or (lambda exc: None)
        self.token: CancelToken | None = None
        self.line: ProgressLine | None = None

    @property
    def running(self) -> bool:
        return self.token is not None

    def start(
        self, work: Work[T], line: ProgressLine | None = None, cancel: CancelToken | None = None
    ) -> CancelToken:
        """Run `work(progress, cancel)` in a thread; `cancel`: a token the work already
        has (a job's), else a new one. Returns the token."""
        self.cancel()
        token = self.token = cancel or CancelToken()
        self.line = line
        progress = reporter(line) if line is not None else unreported

        def run() -> None:
            try:
                result = work(progress, token)
            except Cancelled as exc:
                self.owner.call_later(self.end, token, self.cancelled, exc)
            except SaferError as exc:
                self.owner.call_later(self.end, token, self.failed, exc)
            else:
                self.owner.call_later(self.end, token, self.done, result)

        self.owner.run_worker(run, name=self.name, group=self.name, thread=True)
        return token

    def cancel(self) -> None:
        """Ask the run to stop (what it returns anyway is still handed back)."""
        if self.token is not None:
            self.token.cancel()

    def end(self, token: CancelToken, then: Callable[[Any], object], value: object) -> None:
        if token is not self.token:
            return  # superseded: the newer run owns the line
        self.token = None
        if self.line is not None:
            self.line.finish()
        then(value)
