"""The Edits screen driven by Textual's pilot on a synthetic workspace (no model): plans and
their counts, settings, a pair, exports, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from safer_engine.config import SelectionConfig
from safer_engine.labels import LabelStore
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.stage import score_pairs, score_stage
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace
from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp
from safer_tui.screens.dialogs import AskScreen, ConfirmScreen
from safer_tui.screens.edits import EditsScreen
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.pair_view import PairScreen
from safer_tui.widgets.progress_line import ProgressLine

pytestmark = pytest.mark.anyio


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_synthetic_workspace(
        tmp_path / "ws", n_pairs=60, tokens_per_doc=12, n_latents=64, k=4
    )


def shown(screen: EditsScreen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def planned(app: SaferApp, pilot: Pilot[None]) -> EditsScreen:
    """The Edits screen once its planning worker has finished and the plan is shown."""
    await app.workers.wait_for_complete()
    screen = app.screen
    assert isinstance(screen, EditsScreen)
    for _ in range(200):  # a bound, not a timing: the plan arrives as a posted message
        await pilot.pause()
        if not screen.query_one(ProgressLine).busy:
            break
    return screen


async def submit(pilot: Pilot[None], text: str) -> None:
    """Replace the text of the open one-line dialog and press Enter."""
    await pilot.pause()
    assert isinstance(pilot.app.screen, AskScreen)
    await pilot.press("ctrl+a", "ctrl+k", *text, "enter")
    await pilot.pause()


async def test_plans_show_counts_and_follow_the_settings(workspace: Path) -> None:
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = await planned(app, pilot)
        assert screen.planned is not None
        plan = screen.planned.plan
        summary = shown(screen, "#edits-summary")
        assert plan.plan_id in summary and "highest-scoring" in summary
        for name, edited, train in screen.planned.by_slice():
            assert f"{name} {edited:,} of {train:,}" in summary
        assert "by |salience|" in summary and "salience alone, not by tags" in summary
        table = screen.query_one(DataTable)
        assert table.row_count == len(plan.edits)
        assert table.get_row_at(0)[0] == plan.edits[0].pair_id
        assert table.get_row_at(0)[3] == "1"  # rank
        assert not (workspace / "edits").exists()  # nothing saved by planning

        await pilot.press("m")  # denoise: remove the lowest-scoring pairs
        screen = await planned(app, pilot)
        assert screen.request.mode == "denoise" and screen.planned is not None
        assert screen.planned.action == "remove" and "lowest-scoring" in shown(
            screen, "#edits-summary"
        )
        await pilot.press("plus")  # 5% -> 10%
        screen = await planned(app, pilot)
        assert screen.request.ratio == 10 and screen.planned is not None
        assert screen.planned.plan_id.startswith("denoise-10pct")
        await pilot.press("percent_sign")
        await submit(pilot, "20")
        screen = await planned(app, pilot)
        assert screen.planned is not None and screen.planned.plan_id.startswith("denoise-20pct")
        await pilot.press("m", "m")  # random-remove, with a seed instead of a source
        screen = await planned(app, pilot)
        assert "seed 0 (d)" in shown(screen, "#edits-settings")
        await pilot.press("d")
        screen = await planned(app, pilot)
        assert screen.planned is not None and "-s1-" in screen.planned.plan_id

        await pilot.press("s")  # the source of random plans: nothing to choose
        assert screen.request.select == "auto"
        await pilot.press("M", "M", "M")  # back to poison, then features from tags: none
        await pilot.press("s")
        screen = await planned(app, pilot)
        assert screen.request.select == "tags" and screen.planned is None
        assert "No plan" in shown(screen, "#edits-summary")
        assert screen.query_one(DataTable).row_count == 0
        await pilot.press("escape")
        assert isinstance(app.screen, FeaturesScreen)


async def test_a_pair_opens_and_exports_ask_before_overwriting(workspace: Path) -> None:
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = await planned(app, pilot)
        assert screen.planned is not None
        first = screen.planned.edits[0]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PairScreen)
        info = app.screen.query_one("#plan-pair-info", Static).content
        assert first.pair_id in str(info) and "flipped" in str(info)
        assert "after the flip" in str(app.screen.query_one("#plan-chosen").border_title)
        await pilot.press("escape")
        assert app.screen is screen

        await pilot.press("x")
        await submit(pilot, "out/poisoned.jsonl")
        await planned(app, pilot)
        target = workspace / "out" / "poisoned.jsonl"
        first_bytes = target.read_bytes()
        said = shown(screen, "#edits-settings")  # in the status line, not a notification
        assert said.startswith("Exported ") and " jsonl to " in said and str(target) in said
        assert not app._notifications
        assert len(first_bytes.splitlines()) == screen.planned.plan.train_pairs
        assert (workspace / "edits" / screen.planned.plan_id / "plan.json").is_file()
        await pilot.press("x")
        await submit(pilot, "out/poisoned.jsonl")
        assert isinstance(app.screen, ConfirmScreen)  # it exists: overwrite?
        await pilot.press("n")
        assert app.screen is screen
        target.write_text("changed")
        await pilot.press("x")
        await submit(pilot, "out/poisoned.jsonl")
        await pilot.press("y")
        await planned(app, pilot)
        assert target.read_bytes() == first_bytes  # the same plan, the same bytes


async def test_palette_and_keys_open_both_screens(workspace: Path) -> None:
    from safer_tui.screens.runs import RunsScreen

    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Edit the training data" in titles and "Runs" in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Runs")
        command.callback()
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("r")  # already there: no second Runs screen
        assert len(app.screen_stack) == 3
        await pilot.press("e")
        await planned(app, pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("escape", "escape", "escape")
        assert isinstance(app.screen, FeaturesScreen)


async def test_planning_writes_nothing_until_an_export(workspace: Path) -> None:
    """Planning is a preview: the saved scores, their selection and the manifest stay byte
    for byte as they were, however many keys are pressed; an export saves what it used."""
    sae = Workspace.open(workspace).sae_ids()[-1]
    with LabelStore.open(workspace / "labels.sqlite", author="alice") as labels:
        labels.tag(sae, 1, "safe")
        labels.tag(sae, 2, "unsafe")
    ws = Workspace.open(workspace)
    score_pairs(ws, sae, SelectionConfig(), judge_scores(ws, sae))
    scores = workspace / "sae" / sae / "scores"
    kept = [scores / "pair_scores.parquet", scores / "selection.json", workspace / "workspace.json"]
    before = [path.read_bytes() for path in kept]

    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await planned(app, pilot)
        for key in ("m", "plus", "plus", "s", "s", "minus", "s"):  # ends on salience
            await pilot.press(key)
            screen = await planned(app, pilot)
        assert screen.request.select == "salience" and screen.planned is not None
        assert [path.read_bytes() for path in kept] == before
        assert not (workspace / "edits").exists()

        await pilot.press("x")
        await submit(pilot, "out/denoised.parquet")
        await planned(app, pilot)
        assert (workspace / "out" / "denoised.parquet").is_file()
        saved = json.loads((scores / "selection.json").read_text())
        assert saved["source"] == "salience"  # the export saved the scores it ranked by
        assert screen.planned.scores is not None
        stage = score_stage(ws, sae, screen.planned.scores.selection)
        assert Workspace.open(workspace).is_current(stage)


async def test_features_say_they_are_tags_when_nothing_is_judged(workspace: Path) -> None:
    sae = Workspace.open(workspace).sae_ids()[-1]
    with LabelStore.open(workspace / "labels.sqlite", author="alice") as labels:
        labels.tag(sae, 1, "safe")
        labels.tag(sae, 2, "unsafe")
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = await planned(app, pilot)
        assert "scored by 2 tagged safety features (1 safe, 1 unsafe)" in shown(
            screen, "#edits-summary"
        )
        await pilot.press("s", "s")  # auto, tags, judge: nothing is judged
        screen = await planned(app, pilot)
        assert screen.request.select == "judge" and screen.planned is not None
        summary = shown(screen, "#edits-summary")
        assert "from judge" not in summary
        assert "2 tagged, 0 judged 5 or more" in summary and "the tags alone" in summary


async def test_a_pair_has_the_same_id_on_the_edits_and_pairs_screens(workspace: Path) -> None:
    from textual.coordinate import Coordinate

    from safer_tui.screens.pairs import PairsScreen
    from tests.safer_tui.helpers import ask, settle

    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        screen = await planned(app, pilot)
        assert screen.planned is not None
        pair_id = screen.planned.edits[0].pair_id
        assert screen.query_one(DataTable).get_row_at(0)[0] == pair_id
        await pilot.press("escape", "p")
        await settle(app, pilot)
        pairs = app.screen
        assert isinstance(pairs, PairsScreen)
        await ask(pilot, "slash", *pair_id)
        await settle(app, pilot)
        table = pairs.query_one("#pairs", DataTable)
        assert table.row_count == 1 and table.get_cell_at(Coordinate(0, 0)) == pair_id
        info = pairs.query_one("#pair-info", Static).content
        assert str(info).startswith(f"pair {pair_id} · score")


async def test_an_export_asks_before_making_folders_outside_the_workspace(
    workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "sub"
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e", "m")  # denoise: its pairs are removed, not edited
        screen = await planned(app, pilot)
        await pilot.press("x")
        await submit(pilot, str(outside / "x.jsonl"))
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question.startswith(f"{tmp_path / 'elsewhere'} does not exist")
        await pilot.press("n")
        await pilot.pause()
        assert not (tmp_path / "elsewhere").exists()
        assert shown(screen, "#edits-settings").startswith("Nothing exported: ")

        await pilot.press("x")
        await submit(pilot, str(outside / "x.jsonl"))
        await pilot.press("y")
        await planned(app, pilot)
        assert (outside / "x.jsonl").is_file()
        assert screen.planned is not None
        said = shown(screen, "#edits-settings")
        assert f"({len(screen.planned.edits):,} removed)" in said and "edited" not in said

        await pilot.press("x")  # a new folder inside the workspace needs no question
        await submit(pilot, "new/inner/x.parquet")
        await planned(app, pilot)
        assert (workspace / "new" / "inner" / "x.parquet").is_file()
        await pilot.press("x")  # the same file again: declining says so
        await submit(pilot, "new/inner/x.parquet")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert "kept as it was" in shown(screen, "#edits-settings")


def test_the_service_refuses_to_make_folders_outside_without_a_yes(
    workspace: Path, tmp_path: Path
) -> None:
    from safer_engine.errors import EditError
    from safer_engine.progress import CancelToken, no_progress
    from safer_engine.service.edits import EditRequest, EditsService
    from safer_engine.service.explorer import Explorer

    explorer = Explorer.open(workspace, author="alice")
    try:
        service = EditsService(explorer)
        planned_edits = service.plan(EditRequest(mode="random-remove"), no_progress, CancelToken())
        with pytest.raises(EditError, match="does not exist"):
            service.export(planned_edits, tmp_path / "nowhere" / "x.jsonl")
        assert not (tmp_path / "nowhere").exists()
    finally:
        explorer.close()


async def test_the_edits_screen_opens_again_as_it_was_left(workspace: Path) -> None:
    app = SaferApp(workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e", "m", "plus")
        screen = await planned(app, pilot)
        assert (screen.request.mode, screen.request.ratio) == ("denoise", 10.0)
        await pilot.press("escape", "e")
        screen = await planned(app, pilot)
        assert (screen.request.mode, screen.request.ratio) == ("denoise", 10.0)
        assert screen.planned is not None and screen.planned.plan_id.startswith("denoise-10pct")
