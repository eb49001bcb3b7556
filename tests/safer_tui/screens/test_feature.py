"""The Feature screen driven by Textual's pilot, on a tiny encoded workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_tui.app import SaferApp
from safer_tui.screens.features import FeaturesScreen
from tests.safer_tui.helpers import cell, shown

pytestmark = pytest.mark.anyio


async def test_feature_page_shows_shaded_examples_and_moves(encoded_workspace: Path) -> None:
    from safer_tui.screens.feature import FeatureScreen

    app = SaferApp(encoded_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        order = shown(app)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FeatureScreen)
        assert app.screen.feature == order[0]
        text = str(app.screen.query_one("#feature-examples").render())
        assert "rejected" in text or "chosen" in text
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
        assert cell(app, order[-1], "tag") == "unsafe"
