"""The workspace's runs: each with its status, plan and accuracy per slice, live while a
retrain started in the explorer runs; each edited run against the clean run of its seed; and
the latest experiment's accuracy against the edit ratio, as a text chart.

The retrain itself belongs to the app (`safer_tui.jobs`): this screen only draws it, so
leaving it keeps the run going. `c` cancels it, after a yes.
"""

from __future__ import annotations

import dataclasses
import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from safer_engine.errors import SaferError
from safer_engine.service.explorer import Explorer
from safer_engine.service.runs import Comparison, ExperimentView, RunRow, RunsService
from safer_tui.errors import show_error
from safer_tui.jobs import RetrainJob, Retrains
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import RUNS_NOTES, help_rows
from safer_tui.widgets.accuracy_chart import accuracy_chart
from safer_tui.widgets.key_footer import KeyFooter
from safer_tui.widgets.progress_line import ProgressLine
from safer_tui.widgets.status_line import StatusLine

TICK_SECONDS = 0.5  # how often the list is read again while a retrain runs
SAY_SECONDS = 8.0  # how long a message (a run done) stays in the status line
SLICES = ("safety", "general")
STATUS_STYLES = {
    "done": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "bold",
    "pending": "dim",
}
_PLAN_HASH = re.compile(r"-[0-9a-f]{8}$")
NO_EXPERIMENT = (
    "No experiment yet. `safer experiment --workspace DIR` trains clean runs, SAFER poisoning "
    "against random flipping and SAFER denoising against random removal at several ratios "
    "and seeds; its accuracy against the ratio is drawn here."
)
NO_COMPARISON = (
    "No edited run has finished beside its clean run yet. Plan edits (e on the Features "
    "screen) and retrain them (t): each edited run is compared with the clean run of its seed."
)


def short_name(row: RunRow) -> str:
    """A run as the table names it: its plan, or clean, or base."""
    if row.is_base:
        return "base (analysed RM)"
    if row.plan is None:
        return "clean"
    return plan_name(row.plan, row.source)


def plan_name(plan: str, source: str) -> str:
    """A plan without its hash, which fills the column, but with where its safety features
    came from: plans of one mode and ratio from tags and from salience would read the same.
    The detail line under the table gives the whole id."""
    name = _PLAN_HASH.sub("", plan)
    # a manual plan has no ratio to show; its pair list says more in the 24 columns
    name = "manual" if name.startswith("manual-") and source else name
    return f"{name} · {source}" if source else name


def accuracy_cell(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else ""


def change_cell(value: float | None) -> Text:
    if value is None:
        return Text("")
    text = f"{value:+.3f}".replace("-", "−")
    return Text(text, style="red" if value < 0 else "green" if value > 0 else "")


def recipe_cell(recipe: str, seed: int | None) -> str:
    """`fast s0`: how a run trained; the base run has no seed of its own to show."""
    return f"{recipe} s{seed}" if seed is not None else recipe


def status_cell(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


class RunsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back", tooltip="back (a retrain keeps running)"),
        Binding("1", "tab('runs')", "Runs", tooltip="the runs"),
        Binding("2", "tab('compare')", "Compare", tooltip="each edited run against clean"),
        Binding("3", "tab('experiment')", "Experiment", tooltip="the experiment's chart"),
        Binding("j", "move(1)", "Next", show=False),
        Binding("k", "move(-1)", "Prev", show=False),
        # priority: a table's own Home and End scroll sideways
        Binding("g,home", "jump(0)", "First", show=False, priority=True),
        Binding("G,end", "jump(-1)", "Last", show=False, priority=True),
        Binding("c", "app.cancel_retrain", "Cancel run", tooltip="cancel the retrain (asks)"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        Binding("f1", "help", "Help", show=False, tooltip="this help"),
    ]

    def __init__(self, data: Explorer, retrains: Retrains) -> None:
        super().__init__()
        self.data = data
        self.retrains = retrains
        self.runs = RunsService(data)
        self.rows: list[RunRow] = []
        self.watched: RetrainJob | None = None
        self.watched_line: ProgressLine | None = None
        self.experiment: ExperimentView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="runs-tabs"):
            with TabPane("Runs", id="runs"):
                yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
                yield Static(id="run-detail")
            with TabPane("Edited vs clean", id="compare"):
                yield Static(id="compare-note")
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Experiment", id="experiment"), VerticalScroll(id="experiment-scroll"):
                yield Static(id="experiment-chart")
        yield StatusLine(id="runs-status", wrap=True)
        yield ProgressLine()
        yield KeyFooter()

    DEFAULT_CSS = """
    #runs-tabs { height: 1fr; }
    #runs-table, #compare-table { height: 1fr; }
    #run-detail { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    #compare-note { height: auto; padding: 0 1; color: $text-muted; }
    #runs-status { padding: 0 1; background: $boost; }
    #experiment-chart { padding: 0 1; width: auto; }
    /* the chart keeps its width (scrolled sideways when wider); the note wraps */
    #experiment-chart.note { width: 1fr; }
    TabPane { padding: 0; }
    """

    def on_mount(self) -> None:
        self.sub_title = "runs of the reward model"
        table = self.query_one("#runs-table", DataTable)
        # recipe and seed share a column ("full s1"): whole plan names still fit 80 columns
        for name, width in (
            ("run", 23),
            ("recipe", 7),
            ("status", 9),
            ("safety", 7),
            ("general", 7),
            ("progress", 12),
        ):
            table.add_column(name, width=width, key=name)
        compare = self.query_one("#compare-table", DataTable)
        for name, width in (
            ("plan", 23),
            ("recipe", 7),
            ("safety", 7),
            ("change", 7),
            ("general", 7),
            ("change ", 7),
            ("edited", 6),
        ):
            compare.add_column(name, width=width, key=name)
        table.focus()
        self.reload()
        self.set_interval(TICK_SECONDS, self.tick)

    def on_screen_resume(self) -> None:
        self.reload()

    def on_screen_suspend(self) -> None:
        self.unwatch()

    def on_unmount(self) -> None:
        self.unwatch()

    # -- the app's retrain ---------------------------------------------------------------

    @property
    def job(self) -> RetrainJob | None:
        return self.retrains.job

    def watch_job(self) -> None:
        """Draw the app's running retrain on this screen's progress line."""
        job, line = self.job, self.query_one(ProgressLine)
        if job is None or not job.running:
            self.unwatch()
            line.finish()
            return
        if self.watched is not job:
            self.unwatch()
            line.start(job.line_text(), "c cancels")
            line.advance(job.done, job.total)
            job.watchers.append(line)
            self.watched, self.watched_line = job, line

    def unwatch(self) -> None:
        """Stop drawing the job here (its worker keeps running)."""
        job, line = self.watched, self.watched_line
        self.watched = self.watched_line = None
        if job is not None and line in job.watchers:
            job.watchers.remove(line)

    def tick(self) -> None:
        """While a retrain runs: its run's status and progress, read again."""
        job = self.job
        if self.is_current and job is not None and (job.running or self.watched is job):
            self.reload(experiment=False)

    def job_finished(self) -> None:
        """Called by the app when its retrain ends."""
        self.reload()

    # -- filling -------------------------------------------------------------------------

    def reload(self, experiment: bool = True) -> None:
        """Read the runs again (and the experiment, unless a retrain's tick asks)."""
        try:
            self.rows = self.runs.runs()
            comparisons = self.runs.comparisons()
            if experiment:
                self.experiment = self.runs.latest_experiment()
        except SaferError as exc:
            show_error(self, exc)
            return
        self.fill_runs()
        self.fill_comparisons(comparisons)
        if experiment:
            self.show_experiment()
        self.show_status(len(comparisons))
        self.watch_job()

    def show_status(self, compared: int) -> None:
        runs = sum(not row.is_base for row in self.rows)
        view = self.experiment
        self.query_one(StatusLine).show(
            [
                Text(f"{runs} {'retrain' if runs == 1 else 'retrains'}"),
                Text(f"{compared} against clean"),
                Text(f"experiment {view.experiment_id}" if view else "no experiment"),
            ]
        )

    def say(self, text: str | Text, seconds: float = SAY_SECONDS) -> None:
        """What a key did, or how the app's retrain ended, at the head of the status line."""
        self.query_one(StatusLine).say(text, seconds)

    def fill_runs(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        keep = table.cursor_row
        job = self.job
        current = job.current_run() if job is not None and job.running else None
        if job is not None and job.running:  # its runs, before their records exist
            known = {row.run_id for row in self.rows}
            for run_id, plan in ((job.clean_id, None), (job.edited_id, job.plan_id)):
                if run_id is not None and run_id not in known:
                    source = self.runs.plan_source(plan)
                    pending = RunRow(run_id, "pending", plan, 0, {}, source=source)
                    self.rows.append(dataclasses.replace(pending, recipe=job.recipe))
        table.clear()
        for row in self.rows:
            progress = job.progress_text() if job is not None and row.run_id == current else ""
            table.add_row(
                short_name(row),
                recipe_cell(row.recipe, row.seed),
                status_cell(row.status),
                accuracy_cell(row.accuracy.get("safety")),
                accuracy_cell(row.accuracy.get("general")),
                progress,
                key=row.run_id,
            )
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
            if job is not None and self.watched is not job and job.running:
                # a retrain just started (or was found running): show its run
                ids = [row.run_id for row in self.rows]
                table.move_cursor(row=ids.index(job.edited_id or job.clean_id))
        else:
            self.query_one("#run-detail", Static).update(
                "No runs yet: train the reward model with `safer train-rm` or `safer demo`."
            )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "runs-table" or event.row_key.value is None:
            return
        row = next((r for r in self.rows if r.run_id == event.row_key.value), None)
        if row is not None:
            self.query_one("#run-detail", Static).update(self.detail(row))

    def detail(self, row: RunRow) -> Text:
        text = Text.assemble(
            (row.run_id, "bold"), f" · {row.recipe} recipe · ", status_cell(row.status)
        )
        if row.accuracy:
            parts = [f"{k} {v:.3f}" for k, v in sorted(row.accuracy.items())]
            text.append(" · accuracy " + ", ".join(parts))
        if row.plan:
            text.append(f" · plan {row.plan}")
        if row.edited:
            edited = ", ".join(f"{k} {v:,}" for k, v in sorted(row.edited.items()))
            text.append(f" · edited {edited}")
        if row.started:
            text.append(f" · started {row.started}", style="dim")
        if row.error:
            text.append(f"\n{row.error}", style="red")
        return text

    def fill_comparisons(self, comparisons: list[Comparison]) -> None:
        table = self.query_one("#compare-table", DataTable)
        note = self.query_one("#compare-note", Static)
        table.clear()
        for found in comparisons:
            table.add_row(
                plan_name(found.plan, found.source),
                recipe_cell(found.recipe, found.seed),
                accuracy_cell(found.accuracy.get("safety")),
                change_cell(found.change.get("safety")),
                accuracy_cell(found.accuracy.get("general")),
                change_cell(found.change.get("general")),
                f"{sum(found.edited.values()):,}",
                key=found.run_id,
            )
        note.update(
            "Each edited run against the clean run of the same seed and recipe (test accuracy; "
            "change = edited − clean). fast: a head on the frozen backbone, a proxy; full: the "
            "whole model retrained."
            if comparisons
            else NO_COMPARISON
        )

    def on_resize(self) -> None:
        self.show_experiment()

    def show_experiment(self) -> None:
        view = self.experiment
        chart = self.query_one("#experiment-chart", Static)
        chart.set_class(view is None, "note")
        if view is None:
            chart.update(NO_EXPERIMENT)
            return
        width = max(40, self.size.width - 4)
        drawn = Text.assemble(
            (view.experiment_id, "bold"), " · test accuracy against % of train pairs edited\n"
        )
        for recipe in view.recipes():  # never two recipes in one chart
            drawn.append(f"\n{recipe} recipe\n", style="bold underline")
            drawn.append_text(accuracy_chart(view.only(recipe), width))
        chart.update(drawn)

    # -- keys ----------------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"runs": "#runs-table", "compare": "#compare-table"}.get(tab)
        if target:
            self.query_one(target, DataTable).focus()
        else:
            self.query_one("#experiment-scroll").focus()

    def action_move(self, delta: int) -> None:
        focused = self.focused
        if isinstance(focused, DataTable):
            (focused.action_cursor_down if delta > 0 else focused.action_cursor_up)()

    def action_jump(self, row: int) -> None:
        """The first or last row of the table shown; the chart scrolls to its top or end."""
        focused = self.focused
        if isinstance(focused, DataTable):
            if focused.row_count:
                focused.move_cursor(row=row if row >= 0 else focused.row_count - 1, scroll=True)
        elif focused is not None:
            (focused.scroll_home if row >= 0 else focused.scroll_end)(animate=False)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.app.BINDINGS, RUNS_NOTES)
        self.app.push_screen(HelpScreen("Runs", rows))
