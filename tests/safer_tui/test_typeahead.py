"""Keys typed before the screen they are meant for is up act on that screen, not on the one
before it, whether a key opened a page, a dialog or the pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_tui.app import SaferApp
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.widgets.example_lines import ExampleLines
from tests.safer_tui.helpers import shown, status, table, typed_at_once

pytestmark = pytest.mark.anyio


async def test_enter_then_j_j_scrolls_the_page_and_leaves_the_list(
    synthetic_workspace: Path,
) -> None:
    from safer_tui.screens.feature_page import FeatureScreen

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first = shown(app)[0]
        await typed_at_once(app, pilot, "enter", "j", "j")
        page = app.screen
        assert isinstance(page, FeatureScreen) and page.feature == first
        examples = page.query_one(ExampleLines)
        assert examples.rows and examples.scroll_offset.y == 2  # two lines down
        await pilot.press("escape")
        await pilot.pause()
        assert table(app).cursor == 0  # the j's never reached the list


async def test_enter_then_escape_closes_the_page_it_opened(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await typed_at_once(app, pilot, "enter", "escape")
        assert isinstance(app.screen, FeaturesScreen)
        assert len(app.screen_stack) == 2  # the default screen under the list: nothing open


async def test_a_search_typed_right_after_slash_goes_into_the_dialog(
    synthetic_workspace: Path,
) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = status(app)
        # on the list, t tags, s sorts and u tags: here they are the search's letters
        await typed_at_once(app, pilot, "slash", "t", "u", "s", "enter")
        assert isinstance(app.screen, FeaturesScreen)
        assert app.data is not None and not any(label.tag for label in app.data.labels().values())
        assert "search tus" in status(app) and "sort |salience| ↓" in before
        assert "sort |salience| ↓" in status(app)
