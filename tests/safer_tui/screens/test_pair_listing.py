"""The Pairs screen's list: each pair with the start of its own text, fitting the terminal,
a search's matches marked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from safer_tui.app import SaferApp
from safer_tui.screens.pair_listing import one_line
from safer_tui.shading import MATCH
from tests.safer_tui.helpers import ask, screen_lines, settle
from tests.safer_tui.screens.test_pairs import listed, scored, shown

pytestmark = pytest.mark.anyio


def test_a_text_on_one_line() -> None:
    assert one_line("  Dear Sam,\n\n  I would\tlike  to\r\n") == "Dear Sam,⏎I would like to"
    assert one_line("") == ""


def matches(text: Text) -> list[str]:
    return [text.plain[span.start : span.end] for span in text.spans if span.style == MATCH]


@pytest.mark.parametrize("size", [(80, 24), (72, 24), (60, 20)], ids=["80", "72", "60"])
async def test_each_pair_shows_its_text_and_whole_id_in_the_width(
    synthetic_workspace: Path, size: tuple[int, int]
) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")
        screen = await scored(app, pilot)
        table = screen.query_one("#pairs", DataTable)
        # nothing to scroll sideways: every column is on screen
        assert table.virtual_size.width <= table.scrollable_content_region.width
        names = [str(key.value) for key in table.columns]
        assert names[0] == "pair" and names[-1] == "text"
        assert app.data is not None
        store = app.data.reader().store
        lines = screen_lines(app)
        for row, pair in enumerate(listed(screen)):
            cell = table.get_cell_at(Coordinate(row, len(names) - 1))
            assert isinstance(cell, Text)
            doc = int(store.chosen_doc[pair])
            whole = one_line(store.doc_prompt(doc)) + " ▍" + one_line(store.doc_response(doc))
            shown_text = cell.plain
            assert len(shown_text) <= screen.text_width
            if shown_text.endswith("…"):  # cut after a whole word
                assert whole.startswith(shown_text[:-1]) and shown_text[:-1] != whole
            else:
                assert shown_text == whole
            line = next((line for line in lines if app.data.pair_id(pair) in line), None)
            if line is not None:  # a row on screen: its id whole, and its text after it
                assert shown_text.split()[0] in line


async def test_a_search_marks_its_matches_in_the_list_prompt_and_responses(
    synthetic_workspace: Path,
) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")
        screen = await scored(app, pilot)
        await ask(pilot, "slash", *"SORRY")  # the data says "sorry" and "Sorry"
        await settle(app, pilot)
        assert listed(screen) and screen.pair is not None
        table = screen.query_one("#pairs", DataTable)
        sides = [shown(screen, f"#{side}-text") for side in ("chosen", "rejected")]
        found = [re.findall("sorry", side.plain, re.IGNORECASE) for side in sides]
        assert any(found) and [matches(side) for side in sides] == found
        text = len(table.columns) - 1  # the last column
        previews = [table.get_cell_at(Coordinate(row, text)) for row in range(table.row_count)]
        for preview in previews:
            assert matches(preview) == re.findall("sorry", preview.plain, re.IGNORECASE)
        assert any(matches(preview) for preview in previews)
        # a word of the prompt: marked there
        prompt = screen.query_one("#pair-prompt")
        word = prompt.spans[0].text.split()[0]  # type: ignore[attr-defined]
        await ask(pilot, "slash", *word.lower())
        await settle(app, pilot)
        rendered = prompt.render()
        assert isinstance(rendered, Text)
        assert [m.lower() for m in matches(rendered)] == [word.lower()] * len(matches(rendered))
        assert matches(rendered)


async def test_the_columns_follow_the_terminals_width(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")
        screen = await scored(app, pilot)
        await pilot.press("j")
        await pilot.pause()
        pair, wide = screen.pair, screen.text_width
        table = screen.query_one("#pairs", DataTable)
        assert "split" in [str(key.value) for key in table.columns]
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert "split" not in [str(key.value) for key in table.columns]  # the text's room
        assert screen.text_width < wide and screen.pair == pair
        assert table.virtual_size.width <= table.scrollable_content_region.width
