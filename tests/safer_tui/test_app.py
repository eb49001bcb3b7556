"""The explorer driven by Textual's pilot, on a tiny encoded workspace."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from textual.widgets import DataTable

from safer_engine.labels import LabelStore
from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp
from safer_tui.screens.features import FeaturesScreen, NoteScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.message import MessageScreen

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def table(app: SaferApp) -> DataTable:
    return app.screen.query_one(DataTable)


def status(app: SaferApp) -> str:
    return str(app.screen.query_one("#features-status").render())


def first_feature(app: SaferApp) -> int:
    return int(str(table(app).coordinate_to_cell_key((0, 0))[0].value))


def sae_id(root: Path) -> str:
    return str(Workspace.open(root).stage("encode")["id"])  # type: ignore[index]


async def test_features_are_ranked_by_abs_salience(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)
        features = pl.read_parquet(
            Workspace.open(encoded_workspace).sae_dir(sae_id(encoded_workspace))
            / "salience.parquet"
        )
        assert table(app).row_count == features.height
        top = int(features.sort("abs_salience", descending=True, maintain_order=True)["feature"][0])
        assert first_feature(app) == top


async def test_a_tag_persists_to_sqlite_and_survives_a_restart(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        feature = first_feature(app)
        await pilot.press("u")
        await pilot.pause()
    with LabelStore.open(encoded_workspace / "labels.sqlite") as labels:
        label = labels.current(sae_id(encoded_workspace))[feature]
        assert (label.tag, label.author) == ("unsafe", "alice")
    again = SaferApp(encoded_workspace, author="bob")
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert table(again).get_cell(str(feature), "tag") == "unsafe"


async def test_bulk_tag_of_marked_rows_and_a_note(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("space", "j", "space", "t")
        await pilot.pause()
        tagged = {f: label.tag for f, label in app.data.current_labels().items()}  # type: ignore[union-attr]
        assert list(tagged.values()) == ["safe", "safe"]
        await pilot.press("k", "n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"refusal", "enter")
        await pilot.pause()
        notes = [label.note for label in app.data.current_labels().values()]  # type: ignore[union-attr]
        assert "refusal" in notes


async def test_sort_and_filter(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")  # by density
        await pilot.pause()
        densities = [float(table(app).get_cell_at((r, 4))) for r in range(table(app).row_count)]
        assert densities == sorted(densities, reverse=True)
        await pilot.press("t", "f", "f")  # tag one safe; filter: all → untagged → safe
        await pilot.pause()
        assert table(app).row_count == 1
        assert "filter safe" in status(app)


async def test_help_opens_and_closes(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, FeaturesScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_incomplete_workspace_says_which_step_to_run(
    trained_workspace: Path, tmp_path: Path
) -> None:
    app = SaferApp(trained_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen)
        assert "no SAE features yet" in app.screen.message
        assert "safer train-sae" in app.screen.hint
    missing = SaferApp(tmp_path / "nowhere")
    async with missing.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(missing.screen, MessageScreen)
        assert "does not exist" in missing.screen.message


async def test_feature_page_shows_shaded_examples_and_moves(encoded_workspace: Path) -> None:
    from safer_tui.screens.feature import FeatureScreen

    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        order = [int(str(k.value)) for k in table(app).rows]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FeatureScreen)
        assert app.screen.feature == order[0]
        shown = str(app.screen.query_one("#feature-examples").render())
        assert "rejected" in shown or "chosen" in shown
        await pilot.press("right_square_bracket")
        assert app.screen.feature == order[1]
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.screen.feature == order[-1]  # wraps around
        await pilot.press("u")
        await pilot.pause()
        assert app.data.current_labels()[order[-1]].tag == "unsafe"  # type: ignore[union-attr]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)
        # the tag made on the feature page shows in the list at once
        assert table(app).get_cell(str(order[-1]), "tag") == "unsafe"


def test_examples_carry_the_features_activation_on_each_token(encoded_workspace: Path) -> None:
    import h5py
    import numpy as np

    from safer_engine.sae.examples import FeatureExamples

    workspace = Workspace.open(encoded_workspace)
    sae = workspace.sae_dir(sae_id(encoded_workspace))
    examples = FeatureExamples(workspace.store_path, sae)
    try:
        with h5py.File(sae / "codes.h5") as f:
            feature = int(np.bincount(f["codes_idx"][()].ravel()).argmax())
        found = examples.examples(feature)
        assert found
        best = found[0]
        assert best.quantile == 1.0
        assert best.activations[best.focus] == pytest.approx(best.activation, rel=1e-3)
        assert max(e.activation for e in found) == best.activation
        assert all(len(e.pieces) == len(e.activations) == len(e.in_response) for e in found)
    finally:
        examples.close()


async def test_search_by_note_and_by_id(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        feature = first_feature(app)
        await pilot.press("n", *"Refusal phrase", "enter")
        await pilot.pause()
        await pilot.press("slash", *"refusal", "enter")
        await pilot.pause()
        assert table(app).row_count == 1
        assert first_feature(app) == feature
        await pilot.press("slash", "ctrl+a", "ctrl+k", *str(feature + 1), "enter")
        await pilot.pause()
        assert first_feature(app) == feature + 1
        await pilot.press("slash", "ctrl+a", "ctrl+k", "enter")
        await pilot.pause()
        assert table(app).row_count > 1


async def test_pairs_ranked_by_tag_scores_side_by_side(encoded_workspace: Path) -> None:
    from safer_tui.screens.feature import FeatureScreen
    from safer_tui.screens.pairs import PairsScreen

    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")  # first feature safe, second unsafe, open pairs
        await pilot.pause()
        assert isinstance(app.screen, PairsScreen)
        assert (len(app.screen.safe), len(app.screen.unsafe)) == (1, 1)
        pairs = app.screen.query_one("#pairs", DataTable)
        assert pairs.row_count == 20
        scores = [float(pairs.get_cell_at((r, 1))) for r in range(pairs.row_count)]
        assert scores == sorted(scores, reverse=True)
        assert "Strongest features" in str(app.screen.query_one("#pair-features").render())
        chosen = str(app.screen.query_one("#chosen-text").render())
        assert chosen.strip()
        await pilot.press("j")
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, FeatureScreen)


def test_web_serves_the_explorer_on_localhost(encoded_workspace: Path) -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "safer_tui", "--web", "--port", str(port), str(encoded_workspace)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                    page = reply.read().decode("utf-8", "replace")
            except OSError:
                time.sleep(0.3)
        assert "SAFER explorer" in page
    finally:
        server.terminate()
        server.wait(timeout=10)


async def test_palette_offers_the_apps_own_commands(encoded_workspace: Path) -> None:
    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Open pairs", "Export tags to CSV", "Sort by density", "Filter: untagged"} <= set(
            titles
        )
        assert "Quit the application" in " ".join(
            c.help for c in app.get_system_commands(app.screen)
        ) or "Quit" in " ".join(titles)
        await pilot.press("t")
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Export tags to CSV"
        )
        command.callback()
        await pilot.pause()
        exported = encoded_workspace / f"labels-{sae_id(encoded_workspace)}.csv"
        assert exported.read_text().count("\n") == 2  # header + one tag
        next(
            c for c in app.get_system_commands(app.screen) if c.title == "Sort by density"
        ).callback()
        assert "sort density" in status(app)
