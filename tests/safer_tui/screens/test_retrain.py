"""A real retrain started in the explorer, on the tiny encoded workspace: planned and exported
on the Edits screen, trained in the app's worker while the screens come and go, shown on the
Runs screen; and a cancelled one recorded as failed, never as done."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

import safer_engine.retrain.fast as fast_module
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import list_runs, read_run
from safer_tui.app import SaferApp
from safer_tui.jobs import CANCELLED, DONE
from safer_tui.screens.dialogs import ConfirmScreen, RecipeScreen
from safer_tui.screens.edits import EditsScreen
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.runs import RunsScreen, plan_name
from tests.safer_tui.helpers import status
from tests.safer_tui.screens.test_edits import planned, submit
from tests.safer_tui.screens.test_runs import cells, wait_until

pytestmark = pytest.mark.anyio


def gated_training(gate: threading.Event, reached: threading.Event) -> Any:
    """The engine's head training, held at its start until `gate` opens (or the run is
    cancelled), so a test can act while a run is certainly in progress."""
    real = fast_module.train_fast

    def train(cache: Any, pairs: Any, recipe: Any, seed: int, progress: Any, cancel: Any) -> Any:
        progress("training", 0, recipe.epochs)
        reached.set()
        while not gate.wait(0.01):
            cancel.check("training")
        return real(cache, pairs, recipe, seed, progress, cancel)

    return train


async def open_plan(app: SaferApp, pilot: Pilot[None]) -> EditsScreen:
    await pilot.pause()
    await pilot.press("t", "u")  # the first feature safe, the second unsafe
    await pilot.press("e", "percent_sign")
    await submit(pilot, "25")
    return await planned(app, pilot)


async def test_edits_export_and_a_retrain_that_outlives_the_screens(
    encoded_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, reached = threading.Event(), threading.Event()
    monkeypatch.setattr(fast_module, "train_fast", gated_training(gate, reached))
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(app, pilot)
        plan = screen.planned
        assert plan is not None and plan.source == "tags"
        assert (len(plan.safe), len(plan.unsafe)) == (1, 1)
        assert len(plan.edits) == round(plan.plan.train_pairs * 0.25)
        for path in ("a.parquet", "a.parquet"):  # twice: the second asks, then overwrites
            await pilot.press("x")
            await submit(pilot, path)
            if isinstance(app.screen, ConfirmScreen):
                first = (encoded_workspace / path).read_bytes()
                await pilot.press("y")
            await planned(app, pilot)
        assert (encoded_workspace / "a.parquet").read_bytes() == first

        await pilot.press("t")  # which recipe?
        await pilot.pause()
        assert isinstance(app.screen, RecipeScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, EditsScreen)
        assert "No retrain started" in str(app.screen.query_one("#edits-settings").render())
        await pilot.press("t", "1")  # retrain, fast: the clean run, then the plan's
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await wait_until(pilot, reached.is_set)  # the frozen cache is built, training waits
        job = app.retrain_job
        assert job is not None and job.running and job.current_run() == job.clean_id
        runs = app.screen.query_one("#runs-table", DataTable)
        # base, clean (recorded as running by now) and the plan's run (no record yet)
        await wait_until(pilot, lambda: cells(runs, 1)[2] == "running")
        assert runs.row_count == 3 and cells(runs, 2)[2] == "pending"
        assert cells(runs, 1)[1] == cells(runs, 2)[1] == "fast s0" and cells(runs, 0)[1] == "full"
        await wait_until(pilot, lambda: cells(runs, 1)[5] == "training 0%")  # its progress

        await pilot.press("escape", "escape")  # leave the Runs and Edits screens
        assert isinstance(app.screen, FeaturesScreen) and job.running
        gate.set()
        await wait_until(pilot, lambda: not job.running)
        assert job.state == DONE, job.error
        await pilot.pause()
        assert f"Run {job.edited_id} finished: done" in status(app)  # not a notification
        await pilot.press("r")
        await pilot.pause()
        runs = app.screen.query_one("#runs-table", DataTable)
        assert [cells(runs, r)[2] for r in range(runs.row_count)] == ["done"] * 3
        compare = app.screen.query_one("#compare-table", DataTable)
        assert compare.row_count == 1 and cells(compare, 0)[0] == plan_name(plan.plan_id, "tags")
    workspace = Workspace.open(encoded_workspace)
    done = {run.run_id: run for run in list_runs(workspace)}
    assert done[job.edited_id].plan == plan.plan_id  # type: ignore[index]
    assert done[job.edited_id].status == done[job.clean_id].status == "done"  # type: ignore[index]


async def test_quitting_during_a_retrain_cancels_it_and_records_it_failed(
    encoded_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, reached = threading.Event(), threading.Event()
    monkeypatch.setattr(fast_module, "train_fast", gated_training(gate, reached))
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_plan(app, pilot)
        await pilot.press("t", "f")
        await wait_until(pilot, reached.is_set)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        job = app.retrain_job
        assert job is not None
        await wait_until(pilot, lambda: not job.running)
    assert job.state == CANCELLED and app.return_code == 0
    run = read_run(Workspace.open(encoded_workspace), job.clean_id)
    assert run.status == "failed" and run.error.startswith("Cancelled")


async def test_a_full_retrain_from_the_edits_screen(encoded_workspace: Path) -> None:
    """The full recipe's clean run of the analysed seed is the analysed model: only the plan's
    run trains, the whole model, and it is compared with the base run."""
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(app, pilot)
        assert screen.planned is not None
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, RecipeScreen)
        shown = str(app.screen.query_one(Static).render())
        assert "fast · a head" in shown and "not run here yet" in shown  # no fast run yet
        assert "2 full" in shown and "last run here: " in shown  # the analysed model's time
        await pilot.press("2")
        job = app.retrain_job
        assert job is not None and job.recipe == "full" and job.clean_id == "base"
        await wait_until(pilot, lambda: not job.running, rounds=6000)
        assert job.state == DONE, job.error
        await pilot.pause()
        runs = app.screen.query_one("#runs-table", DataTable)
        assert [cells(runs, r)[1] for r in range(runs.row_count)] == ["full", "full s0"]
        compare = app.screen.query_one("#compare-table", DataTable)
        assert compare.row_count == 1 and cells(compare, 0)[1] == "full s0"
    run = read_run(Workspace.open(encoded_workspace), job.edited_id or "")
    assert run.recipe == "full" and run.info["clean_run"] == "base"
