"""The Pairs screen driven by Textual's pilot, on a tiny encoded workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from safer_tui.app import SaferApp

pytestmark = pytest.mark.anyio


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
