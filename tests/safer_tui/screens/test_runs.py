"""The Runs screen and the app's retrain job driven by Textual's pilot: hand-made runs and
experiment summaries, and a stand-in retrain that runs until cancelled (the real one, on a
tiny model, is in test_retrain.py)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TabbedContent

from safer_engine.errors import Cancelled
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.runs import RetrainOutcome, RunsService
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace
from safer_engine.workspace.runs import finish_run, read_run, start_run
from safer_tui.app import SaferApp
from safer_tui.jobs import CANCELLED
from safer_tui.screens.dialogs import ConfirmScreen
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.runs import RunsScreen
from safer_tui.widgets.accuracy_chart import accuracy_chart
from safer_tui.widgets.progress_line import ProgressLine
from tests.run_records import EXPERIMENT, hand_made_runs, hand_made_summary

pytestmark = pytest.mark.anyio
FAKE_RUN = "clean-rfake00-s0"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_synthetic_workspace(
        tmp_path / "ws", n_pairs=20, tokens_per_doc=12, n_latents=64, k=4
    )


def plain(screen: RunsScreen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def cells(table: DataTable[Any], row: int) -> list[str]:
    return [c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(row)]


async def test_runs_compare_and_chart_from_records(workspace: Path) -> None:
    hand_made_runs(workspace)
    hand_made_summary(workspace)
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        assert [cells(runs, r)[:3] for r in range(runs.row_count)] == [
            ["clean", "fast s0", "done"],
            ["poison-5pct", "fast s0", "done"],
            ["random-flip-5pct-s0", "fast s0", "done"],
            ["denoise-10pct", "fast s0", "cancelled"],
        ]
        assert cells(runs, 1)[3:5] == ["0.800", "0.840"]
        assert "clean-rabc123-s0" in plain(screen, "#run-detail")
        await pilot.press("j", "j", "j")
        assert "Cancelled training." in plain(screen, "#run-detail")

        await pilot.press("2")
        assert screen.query_one(TabbedContent).active == "compare"
        compare = screen.query_one("#compare-table", DataTable)
        expected = ["poison-5pct", "fast s0", "0.800", "−0.120", "0.840", "−0.010", "10"]
        assert cells(compare, 0) == expected
        assert cells(compare, 1)[3] == "−0.020"

        await pilot.press("3")
        chart = plain(screen, "#experiment-chart")
        assert EXPERIMENT in chart
        assert "safety · 50 test pairs · clean 0.920" in chart
        assert "0.760 −0.160" in chart  # SAFER poisoning at 5%
        await pilot.press("c")  # nothing runs: nothing to cancel
        assert isinstance(app.screen, RunsScreen)


def test_chart_draws_each_method_against_the_ratio(workspace: Path) -> None:
    from safer_engine.service.explorer import Explorer

    hand_made_summary(workspace)
    explorer = Explorer.open(workspace)
    try:
        view = RunsService(explorer).latest_experiment()
    finally:
        explorer.close()
    assert view is not None
    lines = accuracy_chart(view, 78).plain.splitlines()
    assert all(len(line) <= 78 for line in lines)
    assert len(lines) == 14  # two slices of a title, two families of a header and two rows
    assert lines[0].startswith("safety") and lines[7].startswith("general")
    assert lines[1].split() == ["poisoning", "1%", "5%"]
    assert lines[4].split() == ["denoising", "2%", "10%"]
    safer, random = lines[2], lines[3]
    assert safer.split()[0] == "SAFER" and random.split()[0] == "random"
    # the bars: SAFER poisoning at 5% is short of the clean mark, dotted up to it
    assert "·┊" in safer and safer.count("█") < random.count("█")
    assert "0.880 −0.040" in safer and "0.760 −0.160" in safer
    assert "0.920 +0.000" in random


def stand_in_retrain(started: list[str]):  # type: ignore[no-untyped-def]
    """A retrain that records its run as running, then waits for its cancel token and
    records the run as the engine does when cancelled."""

    def retrain(
        self: RunsService,
        plan_id: str | None,
        progress: Progress,
        cancel: CancelToken,
        seed: int = 0,
        recipe: Any = None,
    ) -> RetrainOutcome:
        run = start_run(self.workspace, FAKE_RUN, {"seed": 0}, {})
        progress("clean run: training", 1, 10)
        started.append(FAKE_RUN)
        deadline = time.monotonic() + 60  # a bound, so a broken test cannot hang
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        finish_run(self.workspace, run, error="Cancelled training.")
        raise Cancelled("training")

    return retrain


async def wait_until(pilot: Pilot[None], condition: Any, rounds: int = 600) -> None:
    for _ in range(rounds):  # a bound, not a timing
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the condition never held")


async def test_quit_asks_and_cancelling_records_the_run_as_not_done(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(RunsService, "retrain", stand_in_retrain(started))
    monkeypatch.setattr(
        RunsService, "run_ids", lambda self, plan_id, recipe="fast": (FAKE_RUN, None)
    )
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.start_retrain(None)
        await wait_until(pilot, lambda: started)
        assert not app.start_retrain(None)  # one at a time
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.query_one(ProgressLine).busy)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        await wait_until(pilot, lambda: runs.row_count == 1 and "training" in cells(runs, 0)[5])
        assert cells(runs, 0)[:3] == ["clean", "fast s0", "running"]

        await pilot.press("escape")  # leaving the screen keeps the run going
        assert isinstance(app.screen, FeaturesScreen) and app.retrain_job is not None
        assert app.retrain_job.running and app.retrain_job.watchers == []

        await pilot.press("ctrl+c")  # Ctrl+C asks before cancelling
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, FeaturesScreen) and app.retrain_job.running
        await pilot.press("q")  # so does q, and quits after cancelling
        assert isinstance(app.screen, ConfirmScreen)
        assert "Cancel it and quit?" in str(app.screen.question)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.retrain_job.running)  # type: ignore[union-attr]
        await pilot.pause()
        assert app.return_code == 0  # quit once the run was recorded
    assert app.retrain_job.state == CANCELLED
    run = read_run(app.retrain_job.runs.workspace, FAKE_RUN)
    assert run.status == "failed" and run.error.startswith("Cancelled")


async def test_ctrl_c_cancels_without_quitting(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(RunsService, "retrain", stand_in_retrain(started))
    monkeypatch.setattr(
        RunsService, "run_ids", lambda self, plan_id, recipe="fast": (FAKE_RUN, None)
    )
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+c")  # nothing runs: Ctrl+C is Textual's own again
        assert isinstance(app.screen, FeaturesScreen)
        app.start_retrain(None)
        await wait_until(pilot, lambda: started)
        await pilot.press("r", "c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.retrain_job.running)  # type: ignore[union-attr]
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen) and app.return_code is None
        runs = screen.query_one("#runs-table", DataTable)
        assert cells(runs, 0)[2] == "cancelled"
        assert not screen.query_one(ProgressLine).busy


async def test_no_experiment_wraps_its_note_at_80_columns(workspace: Path) -> None:
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("3")
        await pilot.pause()
        chart = app.screen.query_one("#experiment-chart", Static)
        assert plain(app.screen, "#experiment-chart").startswith("No experiment yet.")  # type: ignore[arg-type]
        assert chart.size.width <= 80 and chart.size.height >= 3  # wrapped, not cut
        lines = ["".join(s.text for s in chart.render_line(y)) for y in range(chart.size.height)]
        assert "is drawn here." in " ".join(line.strip() for line in lines)


def save_plan(root: Path, plan_id: str, source: str) -> None:
    from safer_engine import artifacts
    from safer_engine.edits.plan import EditPlan
    from safer_engine.edits.stage import plan_dir
    from safer_engine.workspace import Workspace

    path = plan_dir(Workspace.open(root), plan_id) / artifacts.PLAN_FILE
    EditPlan(plan_id, {"mode": "poison"}, "d" * 64, 20, (), {"source": source}).save(path)


async def test_two_plans_of_one_mode_and_ratio_say_where_their_features_came_from(
    workspace: Path,
) -> None:
    from safer_engine.workspace import Workspace
    from safer_engine.workspace.runs import write_run
    from tests.run_records import run

    hand_made_runs(workspace)
    write_run(
        Workspace.open(workspace),
        run(
            "poison-5pct-77778888-rabc123-s0",
            "poison-5pct-77778888",
            "done",
            "2025-01-02T10:04:00+0000",
            accuracy={"all": 0.85, "safety": 0.88, "general": 0.85},
            edited={"safety": 9, "general": 1},
        ),
    )
    save_plan(workspace, "poison-5pct-1a2b3c4d", "tags")
    save_plan(workspace, "poison-5pct-77778888", "salience")
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        runs = screen.query_one("#runs-table", DataTable)
        names = [cells(runs, r)[0] for r in range(runs.row_count)]
        assert "poison-5pct · tags" in names and "poison-5pct · salience" in names
        assert "random-flip-5pct-s0" in names  # a random plan has no features to name
        compare = screen.query_one("#compare-table", DataTable)
        plans = [cells(compare, r)[0] for r in range(compare.row_count)]
        assert plans == ["poison-5pct · tags", "random-flip-5pct-s0", "poison-5pct · salience"]
        # the columns keep their widths at 80: the longer name is whole on screen
        assert "poison-5pct · salience" in "\n".join(
            "".join(s.text for s in runs.render_line(y)) for y in range(runs.size.height)
        )


async def test_a_run_that_ends_while_cancel_is_asked_says_so(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from safer_engine.service.runs import RunRow

    gate = threading.Event()

    def retrain(
        self: RunsService, plan_id: str | None, *args: Any, **kwargs: Any
    ) -> RetrainOutcome:
        gate.wait(60)  # a bound, so a broken test cannot hang
        row = RunRow(FAKE_RUN, "done", None, 0, {"safety": 0.9, "general": 0.8})
        return RetrainOutcome(row, None, False)

    monkeypatch.setattr(RunsService, "retrain", retrain)
    monkeypatch.setattr(
        RunsService, "run_ids", lambda self, plan_id, recipe="fast": (FAKE_RUN, None)
    )
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.start_retrain(None)
        await pilot.press("r", "c")
        assert isinstance(app.screen, ConfirmScreen)
        gate.set()  # the run finishes while the question is open
        await wait_until(pilot, lambda: not app.retrain_job.running)  # type: ignore[union-attr]
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen) and app.retrain_job.state == "done"  # type: ignore[union-attr]
        said = plain(screen, "#runs-status")
        assert f"Run {FAKE_RUN} finished before the cancel took effect: done" in said
        assert "general 0.800, safety 0.900" in said
        assert not app._notifications  # said in the status line, not over the table


def test_plan_names_fit_the_column_and_tell_plans_apart() -> None:
    from safer_tui.screens.runs import plan_name

    assert plan_name("poison-5pct-1a2b3c4d", "tags") == "poison-5pct · tags"
    assert plan_name("manual-remove-30db8edd", "remove-cleanlab") == "manual · remove-cleanlab"
    assert plan_name("manual-flip-30db8edd", "") == "manual-flip"
    assert plan_name("random-flip-5pct-s0-846cc24e", "") == "random-flip-5pct-s0"


async def test_g_and_end_move_to_the_first_and_last_run(workspace: Path) -> None:
    hand_made_runs(workspace)
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        runs = app.screen.query_one("#runs-table", DataTable)
        assert runs.row_count > 2 and runs.cursor_row == 0
        await pilot.press("G")
        assert runs.cursor_row == runs.row_count - 1
        await pilot.press("g")
        assert runs.cursor_row == 0
        await pilot.press("end")
        assert runs.cursor_row == runs.row_count - 1
        await pilot.press("home")
        assert runs.cursor_row == 0


def test_three_ratios_at_60_columns_keep_their_values_whole(workspace: Path) -> None:
    from safer_engine.service.explorer import Explorer
    from safer_engine.service.runs import ExperimentView

    hand_made_summary(workspace)

    explorer = Explorer.open(workspace)
    try:
        view = RunsService(explorer).latest_experiment()
    finally:
        explorer.close()
    assert isinstance(view, ExperimentView)
    extra = [
        dataclasses.replace(r, ratio=20.0) for r in view.rows if r.method != "clean" and r.ratio > 4
    ]
    wider = dataclasses.replace(view, rows=[*view.rows, *extra])
    lines = accuracy_chart(wider, 56).plain.splitlines()  # a 60-column screen's chart
    assert all(len(line.rstrip()) <= 56 for line in lines)
    assert lines[2].split()[1:] == ["0.880", "−0.040", "0.760", "−0.160", "0.760", "−0.160"]
