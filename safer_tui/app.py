"""The SAFER explorer: a Textual app over one workspace.

Importing this module loads textual, polars, h5py and sqlite only; never torch,
transformers or sae_lens (checked by tests/test_import_boundaries.py). It imports the first
screen's modules only (the Features screen, a message for a workspace that cannot open, the
dialogs): every other screen is imported where the app first opens it, so the first frame
does not wait for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from safer_engine.errors import SaferError
from safer_engine.service.explorer import Explorer
from safer_tui.background import Background
from safer_tui.errors import ERROR_SECONDS, show_error
from safer_tui.jobs import DONE, RetrainJob, Retrains
from safer_tui.navigation import (
    EditsLeft,
    OpenFeature,
    OpenPairs,
    OpenPlanPair,
    StartRetrain,
)
from safer_tui.screens.dialogs import ConfirmScreen
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.message import MessageScreen
from safer_tui.typeahead import TypeAheadApp

if TYPE_CHECKING:
    from safer_engine.service.edits import EditRequest

SAY_SECONDS = 8.0  # how long a message stays in a status line


class SaferApp(TypeAheadApp):
    TITLE = "SAFER explorer"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="quit (asks first while a retrain runs)"),
        Binding(
            "e",
            "open_edits",
            "Edits",
            show=False,
            tooltip="edit the training data: plan, export, retrain",
        ),
        Binding(
            "r",
            "open_runs",
            "Runs",
            show=False,
            tooltip="runs: accuracy, edited against clean, the experiment",
        ),
        # Not while text is selected (see check_action): then Ctrl+C copies, as usual.
        Binding(
            "ctrl+c",
            "interrupt",
            "Cancel retrain",
            show=False,
            priority=True,
            tooltip="cancel the retrain, after a yes (with text selected: copy it)",
        ),
    ]

    def __init__(self, workspace: Path, author: str | None = None) -> None:
        super().__init__()
        self.workspace_path = workspace
        self.author = author
        self.data: Explorer | None = None
        self.retrains = Retrains()
        """The retrain started in the explorer: the app's, so it outlives every screen."""
        self.retrain_worker: Background[None] = Background(
            self, "retrain", lambda _: self.retrain_finished()
        )
        self.quit_after_retrain = False
        self.edit_request: EditRequest | None = None
        """The Edits screen's settings when it was last left, to open it with again."""
        self.report_worker: Background[tuple[Path, int]] = Background(
            self, "report", self.report_written
        )

    def on_mount(self) -> None:
        try:
            self.data = Explorer.open(self.workspace_path, self.author)
        except SaferError as exc:
            self.push_screen(MessageScreen(exc.message, exc.hint))
            return
        self.push_screen(FeaturesScreen(self.data))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Ctrl+P: Textual's own commands (themes, keys, quit), plus the Features screen's."""
        yield from super().get_system_commands(screen)
        if self.data is not None:
            yield SystemCommand(
                "Edit the training data",
                "Plan poisoning, denoising or random edits; export them or retrain",
                self.action_open_edits,
            )
            yield SystemCommand(
                "Runs",
                "Retrained reward models, their accuracy, the experiment's chart",
                self.action_open_runs,
            )
            yield SystemCommand(
                "Write audit report",
                f"audit-{self.data.sae_id}.html in the workspace folder: one HTML file that "
                "opens in any browser",
                self.write_report,
            )
        if not isinstance(screen, FeaturesScreen):
            return
        yield SystemCommand(
            "Open pairs", "Pairs ranked by score from the current tags", screen.action_pairs
        )
        yield SystemCommand("Search features", "Feature ids and notes", screen.action_search)
        yield SystemCommand(
            "Judge features", "Ask an LLM judge about the marked or top N (J)", screen.action_judge
        )
        yield SystemCommand("Undo the last tag change", "z", screen.action_undo)
        yield SystemCommand(
            "Export tags to CSV", "labels-<sae>.csv in the workspace folder", screen.export_tags
        )
        for column in screen.table.columns():  # only what is on screen: a hidden sort confuses
            yield SystemCommand(
                f"Sort by {column.name}",
                "Re-order the feature table",
                partial(screen.set_sort, column.name),
            )
        for name in screen.view.filters:
            yield SystemCommand(
                f"Filter: {name}", "Show only these features", partial(screen.set_filter, name)
            )

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """The palette's Screenshot: an SVG in the workspace folder (or the current folder
        when the workspace cannot be written), and a message saying where or why not.
        Textual's own saves to ~/Downloads, which often does not exist on a server, and
        fails without a reason. In a browser (`--web`) the browser downloads it."""
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        folders = [Path(path)] if path else [self.workspace_path, Path.cwd()]
        problems = []
        for folder in folders:
            try:
                saved = self.save_screenshot(filename, str(folder), time_format)
            except OSError as exc:
                problems.append(f"{folder}: {exc.strerror or exc}")
                continue
            self.notify(f"Screenshot saved to {saved}", title="Screenshot", timeout=4)
            return saved
        self.notify(
            "Could not save the screenshot (" + "; ".join(problems) + ").",
            title="Screenshot",
            severity="error",
            timeout=ERROR_SECONDS,
            markup=False,
        )
        return None

    # -- moving between screens: what the screens ask for (safer_tui.navigation) ------------

    def on_open_feature(self, message: OpenFeature) -> None:
        from safer_tui.screens.feature_page import FeatureScreen

        if self.data is not None:
            page = FeatureScreen(self.data, message.order, message.position, message.word)
            self.push_screen(page, message.returned)

    def on_open_pairs(self, message: OpenPairs) -> None:
        from safer_tui.screens.pairs import PairsScreen

        if self.data is not None:
            pairs = PairsScreen(self.data, message.feature, message.pair, message.shade_feature)
            self.push_screen(pairs)

    def on_open_plan_pair(self, message: OpenPlanPair) -> None:
        from safer_tui.screens.pair_view import PairScreen

        if self.data is not None:
            self.push_screen(
                PairScreen(self.data, message.pair, message.edit, message.safe, message.unsafe)
            )

    def on_edits_left(self, message: EditsLeft) -> None:
        self.edit_request = message.request

    def on_start_retrain(self, message: StartRetrain) -> None:
        if self.start_retrain(message.plan_id, message.recipe):
            self.action_open_runs()

    # -- the audit report -------------------------------------------------------------------

    def write_report(self) -> None:
        """The palette's Write audit report: `safer report`'s file, from a thread worker."""
        if self.data is None:
            return
        if self.report_worker.running:
            self.say("The audit report is being written.")
            return
        self.report_worker.start(self.data.write_report)
        self.say("Writing the audit report…")

    def report_written(self, report: tuple[Path, int]) -> None:
        path, size = report
        self.say(f"Audit report written to {path} ({size / 1e6:.1f} MB)")

    # -- edits and runs ------------------------------------------------------------------

    def action_open_edits(self) -> None:
        from safer_tui.screens.edits import EditsScreen

        if self.data is not None and not isinstance(self.screen, (EditsScreen, ModalScreen)):
            self.push_screen(EditsScreen(self.data, self.retrains, self.edit_request))

    def action_open_runs(self) -> None:
        from safer_tui.screens.runs import RunsScreen

        if self.data is not None and not isinstance(self.screen, (RunsScreen, ModalScreen)):
            self.push_screen(RunsScreen(self.data, self.retrains))

    @property
    def retrain_job(self) -> RetrainJob | None:
        return self.retrains.job

    def start_retrain(self, plan_id: str | None, recipe: str = "fast") -> bool:
        """Retrain a saved plan (None: the clean run) with a recipe, in a thread worker of
        the app."""
        from safer_engine.service.runs import RunsService

        if self.data is None or self.retrains.refuse(self):
            return False
        try:
            job = RetrainJob(RunsService(self.data), plan_id, recipe)
        except SaferError as exc:
            show_error(self.screen, exc)
            return False
        self.retrains.job = job
        # the job keeps every outcome in its state, and draws on its own watchers
        self.retrain_worker.start(lambda progress, cancel: job.run(), cancel=job.cancel)
        return True

    def retrain_finished(self) -> None:
        from safer_tui.screens.runs import RunsScreen

        job = self.retrains.job
        assert job is not None  # set before its worker starts
        if self.quit_after_retrain:
            self.exit()
            return
        if job.state == DONE:
            # a cancel asked for while the last step ended: say why the run is done anyway
            self.say(finished_text(job, late=job.cancel.cancelled))
        elif job.error is not None:
            show_error(self.screen, job.error)
        if isinstance(screen := self.under_dialogs(), RunsScreen):
            screen.job_finished()

    def under_dialogs(self) -> Screen[object]:
        """The screen on top, or under the dialogs over it (a question still open)."""
        return next(s for s in reversed(self.screen_stack) if not isinstance(s, ModalScreen))

    def say(self, text: str) -> None:
        """What a key or the app's retrain did, in the status line of the screen shown
        (under any dialog); a notification only on a screen without a status line."""
        from safer_tui.screens.edits import EditsScreen
        from safer_tui.screens.runs import RunsScreen

        screen = self.under_dialogs()
        if isinstance(screen, (FeaturesScreen, EditsScreen, RunsScreen)):
            screen.say(text, seconds=SAY_SECONDS)
        else:
            self.notify(text, timeout=SAY_SECONDS, markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "interrupt":  # Ctrl+C: ours while a retrain runs or nothing is selected
            return self.retrains.running or not self.screen.get_selected_text()
        return super().check_action(action, parameters)

    def action_cancel_retrain(self) -> None:
        """The Runs screen's c: cancel the retrain, after a yes."""
        self.ask_cancel_retrain(quit_after=False)

    def action_interrupt(self) -> None:
        job = self.retrain_job
        if job is None or not job.running:
            self.say(
                "Nothing to cancel: no retrain is running "
                "(Esc stops a judge run or a search; q quits)."
            )
            return
        self.ask_cancel_retrain(quit_after=False)

    async def action_quit(self) -> None:
        """q: quit, after a yes when a retrain is running (quitting cancels it)."""
        job = self.retrain_job
        if job is None or not job.running:
            self.exit()
            return
        self.ask_cancel_retrain(quit_after=True)

    def ask_cancel_retrain(self, quit_after: bool) -> None:
        job = self.retrain_job
        if job is None or not job.running:
            self.say("No retrain is running.")
            return
        if isinstance(self.screen, ConfirmScreen):
            return  # already asking

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            if not job.running:  # it ended while the question was open
                if quit_after:
                    self.exit()
                elif job.state == DONE:
                    self.say(finished_text(job, late=True))
                return
            self.quit_after_retrain = quit_after
            job.cancel.cancel()
            self.say("Cancelling the retrain; it is recorded as failed.")

        question = (
            f"A retrain ({job.name}) is running. Cancel it and quit?"
            if quit_after
            else f"Cancel the retrain ({job.name})?"
        )
        detail = "The run is recorded as failed (cancelled); finished runs are kept."
        self.push_screen(ConfirmScreen(question, detail), answer)

    def on_unmount(self) -> None:
        if self.retrain_job is not None:
            self.retrain_job.cancel.cancel()  # never leave a thread training after the app
        if self.data is not None:
            self.data.close()


def finished_text(job: RetrainJob, late: bool) -> str:
    """A finished retrain's run and accuracy; `late`: a cancel was asked for too late."""
    run = job.outcome.edited or job.outcome.clean if job.outcome is not None else None
    if run is None:
        return f"The retrain ({job.name}) finished."
    accuracy = ", ".join(f"{k} {v:.3f}" for k, v in sorted(run.accuracy.items()))
    when = " before the cancel took effect" if late else ""
    return f"Run {run.run_id} finished{when}: done, {accuracy}"
