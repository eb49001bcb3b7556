"""A retrain started in the explorer.

The job belongs to the app, not to a screen: its thread worker runs on the app, so leaving
the Edits or Runs screen keeps it going, and quitting asks first. Cancelling sets the engine's
`CancelToken`; the engine then records the run as failed ("Cancelled …"), never as done. The
worker imports torch (inside the engine's retrain) only when it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.widget import Widget

from safer_engine.errors import Cancelled, SaferError, TrainingError
from safer_engine.progress import CancelToken
from safer_tui.widgets.progress_line import ProgressLine

if TYPE_CHECKING:  # the app makes its `Retrains` at start; the runs service waits for a job
    from safer_engine.service.runs import RetrainOutcome, RunsService

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


class RetrainJob:
    """One retrain (a plan's clean run, then its edited run) and how far it has got."""

    def __init__(self, runs: RunsService, plan_id: str | None, recipe: str = "fast") -> None:
        self.runs = runs
        self.plan_id = plan_id
        self.recipe = recipe
        self.clean_id, self.edited_id = runs.run_ids(plan_id, recipe=recipe)
        self.cancel = CancelToken()
        self.state = RUNNING
        self.task = "starting"
        self.done = 0
        self.total: int | None = None
        self.error: SaferError | None = None
        self.outcome: RetrainOutcome | None = None
        self.watchers: list[ProgressLine] = []
        """Progress lines drawing this job (the Runs screen's, while it is shown)."""

    @property
    def name(self) -> str:
        return self.plan_id or self.clean_id

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def cancelling(self) -> bool:
        return self.running and self.cancel.cancelled

    def report(self, task: str, done: int, total: int | None) -> None:
        """The engine's `Progress`, called from the worker thread: keep the latest figures,
        and post them to whoever draws them (posting never waits for the UI)."""
        self.task, self.done, self.total = task, done, total
        for line in tuple(self.watchers):
            line.post_message(ProgressLine.Advanced(done, total, self.line_text()))

    def line_text(self) -> str:
        return f"retrain ({self.recipe}) · {self.task}"

    def current_run(self) -> str:
        """The run being trained now, or next (the clean run, while the cache is built)."""
        if self.edited_id is not None and self.task.startswith("edited run"):
            return self.edited_id
        return self.clean_id

    def progress_text(self) -> str:
        """How far the current step is, for the run's row."""
        step = self.task.split(": ", 1)[-1]
        if self.cancelling:
            return "cancelling…"
        if self.total:
            return f"{step} {self.done / self.total:.0%}"
        return step

    def run(self) -> None:
        """The work, in the worker thread: every outcome ends in `state`."""
        try:
            self.outcome = self.runs.retrain(
                self.plan_id, self.report, self.cancel, recipe=self.recipe
            )
        except Cancelled as exc:
            self.state, self.error = CANCELLED, exc
        except SaferError as exc:
            self.state, self.error = FAILED, exc
        except Exception as exc:  # a bug: say so on screen rather than lose the thread
            self.state = FAILED
            self.error = TrainingError(f"The retrain stopped: {exc!r}.", "Please report this.")
        else:
            self.state = DONE


class Retrains:
    """The app's retrain, one at a time, as the screens that start and draw it see it:
    the app hands this to them, so they need not hold the app."""

    def __init__(self) -> None:
        self.job: RetrainJob | None = None
        """The latest retrain started in the explorer, running or ended."""

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def refuse(self, node: Widget | App[Any]) -> bool:
        """Whether a retrain runs (and if so, say on `node` that only one runs at a time)."""
        job = self.job
        if job is None or not job.running:
            return False
        node.notify(
            f"A retrain ({job.name}) is running; one at a time. r shows it, c there cancels it.",
            severity="warning",
        )
        return True
