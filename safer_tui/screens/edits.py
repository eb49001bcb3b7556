"""Edits of the training data: choose a mode, a ratio and where the safety features come
from, see the plan's pairs and counts by slice before anything is saved, open any pair,
export the edited data, or retrain on it.

Planning is the engine's `safer edit plan` without its writes: new pair scores are a pass
over the codes kept in memory, so it runs in a thread worker, and a newer request supersedes
it. Exporting saves the plan and its scores and writes the data as `safer edit export`; an
existing file is overwritten only after a yes. Retraining is the app's job (see
`safer_tui.jobs`), shown on the Runs screen.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from safer_engine.errors import SaferError
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.edits import (
    MODES,
    RATIOS,
    SOURCES,
    EditRequest,
    EditsService,
    ExportResult,
    PlannedEdits,
    export_format,
)
from safer_engine.service.explorer import Explorer
from safer_engine.service.runs import RunsService
from safer_tui.background import Background
from safer_tui.edit_view import plan_summary, ratio_text
from safer_tui.errors import error_text, notify_error, show_error
from safer_tui.jobs import Retrains
from safer_tui.navigation import EditsLeft, OpenPlanPair, StartRetrain
from safer_tui.screens.dialogs import AskScreen, ConfirmScreen, RecipeScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import EDITS_NOTES, help_rows
from safer_tui.widgets.key_footer import KeyFooter
from safer_tui.widgets.progress_line import ProgressLine
from safer_tui.widgets.status_line import StatusLine

SAY_SECONDS = 5.0  # how long a message stays in the status line


class EditsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back", tooltip="back; nothing is saved until x or t"),
        Binding("m", "mode(1)", "Mode", tooltip="next mode: poison, denoise, random-flip, …"),
        Binding("M", "mode(-1)", "Previous mode", show=False),
        Binding("plus,equals_sign", "ratio(1)", "Ratio", key_display="+", tooltip="bigger ratio"),
        Binding("minus", "ratio(-1)", "Smaller ratio", key_display="-", show=False),
        Binding("percent_sign", "type_ratio", "Type a ratio", show=False),
        Binding(
            "s",
            "source",
            "Features",
            tooltip="where the safety features come from: auto, tags, judge, salience",
        ),
        Binding("d", "seed", "Seed", show=False, tooltip="next seed of a random draw"),
        Binding("j", "move(1)", "Next", show=False),
        Binding("k", "move(-1)", "Prev", show=False),
        Binding(
            "x",
            "export",
            "Export",
            tooltip="export the edited train split (.parquet, .jsonl, or a folder for hf); "
            "asks before overwriting",
        ),
        Binding(
            "t",
            "retrain",
            "Retrain",
            tooltip="retrain on this plan and its clean run, fast (a proxy) or full; shown "
            "on the Runs screen",
        ),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        Binding("f1", "help", "Help", show=False, tooltip="this help"),
    ]
    DEFAULT_CSS = """
    #edits-settings { padding: 0 1; background: $boost; }
    #edits-summary { height: auto; padding: 0 1; }
    #edits-table { height: 1fr; }
    """

    def __init__(
        self, data: Explorer, retrains: Retrains, request: EditRequest | None = None
    ) -> None:
        super().__init__()
        self.data = data
        self.retrains = retrains
        self.edits = EditsService(data)
        self.request = request or EditRequest()
        self.planned: PlannedEdits | None = None
        self.planning: Background[PlannedEdits] = Background(
            self, "edit-plan", self.planned_edits, self.plan_failed
        )
        self.exporting: Background[tuple[ExportResult, PlannedEdits]] = Background(
            self, "edit-export", self.exported
        )

    def compose(self) -> ComposeResult:
        yield Header()
        # the settings, with what a key did at their head (an export's path: whole, wrapped)
        yield StatusLine(id="edits-settings", wrap=True)
        yield Static(id="edits-summary")
        yield DataTable(id="edits-table", cursor_type="row", zebra_stripes=True)
        yield ProgressLine()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"edit the training data · SAE {self.data.sae_id}"
        table = self.query_one(DataTable)
        for name, width in (
            ("pair", 16),
            ("slice", 8),
            ("score", 8),
            ("rank", 6),
            ("reason", 30),
        ):
            table.add_column(name, width=width, key=name)
        table.focus()
        self.replan()

    def on_unmount(self) -> None:
        self.planning.cancel()
        self.app.post_message(EditsLeft(self.request))  # opened again as it was left

    # -- planning, off the UI thread -----------------------------------------------------

    def show_settings(self) -> None:
        request = self.request
        text = Text.assemble(
            "mode ", (request.mode, "bold"), " (m) · ratio ", (ratio_text(request.ratio), "bold")
        )
        text.append(" (+ − %)")
        if request.scored:
            text.append(" · features ").append(request.select, style="bold").append(" (s)")
        else:
            text.append(" · seed ").append(str(request.seed), style="bold").append(" (d)")
        self.query_one(StatusLine).show(text)

    def replan(self) -> None:
        self.planned = None  # the rows shown are the old plan's until the new one comes
        self.show_settings()
        self.query_one("#edits-summary", Static).update("planning…")
        line = self.query_one(ProgressLine)
        line.start("planning")
        # a plan still being made is superseded
        self.planning.start(partial(self.edits.plan, self.request), line)

    def planned_edits(self, planned: PlannedEdits) -> None:
        self.planned = planned
        self.fill(planned)

    def plan_failed(self, error: SaferError) -> None:
        show_error(self, error)
        self.planned = None
        self.query_one(DataTable).clear()
        self.query_one("#edits-summary", Static).update(
            Text(f"No plan: {error_text(error)}", style="red")
        )

    def fill(self, planned: PlannedEdits) -> None:
        self.query_one("#edits-summary", Static).update(plan_summary(planned))
        table = self.query_one(DataTable)
        table.clear()
        for edit in planned.edits:
            table.add_row(
                edit.pair_id,
                edit.slice,
                f"{edit.score:+.3f}" if edit.score is not None else "",
                f"{edit.rank:,}" if edit.rank is not None else "",
                edit.reason.split(" (")[0],  # rank and seed have places of their own
                key=edit.pair_id,
            )

    def no_plan(self, what: str) -> str:
        if self.query_one(ProgressLine).busy:
            return f"Still planning: {what} it once the plan is shown."
        return f"No plan to {what}: change the settings (m, +, s)."

    # -- settings ------------------------------------------------------------------------

    def change(self, **fields: Any) -> None:
        self.request = replace(self.request, **fields)
        self.replan()

    def action_mode(self, step: int) -> None:
        self.change(mode=MODES[(MODES.index(self.request.mode) + step) % len(MODES)])

    def action_ratio(self, step: int) -> None:
        ratio = self.request.ratio
        if step > 0:
            bigger = [r for r in RATIOS if r > ratio]
            self.change(ratio=bigger[0] if bigger else ratio)
        else:
            smaller = [r for r in RATIOS if r < ratio]
            self.change(ratio=smaller[-1] if smaller else ratio)

    def action_type_ratio(self) -> None:
        def apply(text: str | None) -> None:
            if not text:
                return
            try:
                ratio = float(text.rstrip("%").strip())
            except ValueError:
                notify_error(self, f"{text!r} is not a number.")
                return
            if not 0 < ratio < 100:
                notify_error(self, "A ratio is above 0 and below 100 (%).")
                return
            self.change(ratio=ratio)

        prompt = "Percent of the train pairs to edit (Enter applies, Esc cancels)"
        self.app.push_screen(AskScreen(prompt, f"{self.request.ratio:g}", "ratio-input"), apply)

    def action_source(self) -> None:
        if not self.request.scored:
            self.say("Random plans use no safety features.")
            return
        self.change(select=SOURCES[(SOURCES.index(self.request.select) + 1) % len(SOURCES)])

    def action_seed(self) -> None:
        if self.request.scored:
            self.say("Only the random modes draw with a seed.")
            return
        self.change(seed=self.request.seed + 1)

    def action_move(self, delta: int) -> None:
        table = self.query_one(DataTable)
        (table.action_cursor_down if delta > 0 else table.action_cursor_up)()

    # -- a pair --------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        planned = self.planned
        if planned is None or event.row_key.value is None:
            return
        edit = next(e for e in planned.edits if e.pair_id == event.row_key.value)
        try:
            pair = self.edits.pair_index(edit.pair_id)
        except SaferError as exc:
            show_error(self, exc)
            return
        if pair is None:
            notify_error(self, f"Pair {edit.pair_id} is not in the activation store.")
            return
        self.post_message(OpenPlanPair(pair, edit, planned.safe, planned.unsafe))

    # -- export --------------------------------------------------------------------------

    def action_export(self) -> None:
        planned = self.planned
        if planned is None:
            notify_error(self, self.no_plan("export"), "warning")
            return

        def chosen(text: str | None) -> None:
            if not text:
                return
            out = self.edits.target(Path(text))
            missing = self.edits.missing_folder(out)
            if missing is None:
                self.export_to(planned, out, make_folders=False)
                return

            def create(yes: bool | None) -> None:
                if yes:
                    self.export_to(planned, out, make_folders=True)
                else:
                    self.say(f"Nothing exported: {missing} was not created.")

            question = f"{missing} does not exist. Create it and export there?"
            self.app.push_screen(ConfirmScreen(question, f"Writes {out}."), create)

        prompt = (
            f"Export the edited train split of {planned.plan_id} to: a .parquet or .jsonl "
            "file, or any other name for a `datasets` folder (relative to the workspace)"
        )
        default = str(self.edits.default_export(planned))
        self.app.push_screen(AskScreen(prompt, default, "export-input"), chosen)

    def export_to(self, planned: PlannedEdits, out: Path, make_folders: bool) -> None:
        """Export, asking first when that would overwrite an earlier export."""
        if not self.edits.export_exists(out):
            self.export(planned, out, False, make_folders)
            return

        def overwrite(yes: bool | None) -> None:
            if yes:
                self.export(planned, out, True, make_folders)
            else:
                self.say(f"Nothing exported: {out} kept as it was.")

        self.app.push_screen(
            ConfirmScreen(f"{out} already exists. Overwrite it?", "Its manifest too."), overwrite
        )

    def export(self, planned: PlannedEdits, out: Path, force: bool, make_folders: bool) -> None:
        line = self.query_one(ProgressLine)
        line.start(f"exporting {export_format(out)} to {out.name}", "")

        def write(progress: Progress, cancel: CancelToken) -> tuple[ExportResult, PlannedEdits]:
            return self.edits.export(planned, out, force, make_folders), planned

        self.exporting.start(write, line)

    def exported(self, done: tuple[ExportResult, PlannedEdits]) -> None:
        result, planned = done
        written = export_format(result.path)  # the schema alone would not say the format
        form = "datasets folder" if written == "hf" else written
        edited = "removed" if planned.action == "remove" else "flipped"
        self.say(
            f"Exported {result.rows:,} train pairs ({len(planned.edits):,} {edited}) as "
            f"{result.schema} {form} to {result.path}; "
            "manifest beside it.",
            seconds=2 * SAY_SECONDS,
        )

    # -- retrain -------------------------------------------------------------------------

    def action_retrain(self) -> None:
        planned = self.planned
        if planned is None:
            notify_error(self, self.no_plan("retrain on"), "warning")
            return
        if self.retrains.refuse(self):
            return
        try:
            last = RunsService(self.data).last_seconds()
        except SaferError as exc:
            show_error(self, exc)
            return

        def chosen(recipe: str | None) -> None:
            if recipe is None:
                self.say("No retrain started.")
                return
            try:
                self.edits.save(planned)
            except SaferError as exc:
                show_error(self, exc)
                return
            self.post_message(StartRetrain(planned.plan_id, recipe))

        self.app.push_screen(RecipeScreen(f"plan {planned.plan_id}", last), chosen)

    def say(self, text: str | Text, seconds: float = SAY_SECONDS) -> None:
        """What a key did (or a job that ended), at the head of the settings line."""
        self.query_one(StatusLine).say(text, seconds)

    def action_back(self) -> None:
        self.planning.cancel()
        self.app.pop_screen()

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.app.BINDINGS, EDITS_NOTES)
        self.app.push_screen(HelpScreen("Edits", rows))
