"""The Features screen driven by Textual's pilot, on a tiny encoded workspace."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.labels import LabelStore
from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp
from safer_tui.screens.features import FeaturesScreen, NoteScreen
from tests.safer_tui.helpers import first_feature, sae_id, status, table

pytestmark = pytest.mark.anyio


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
