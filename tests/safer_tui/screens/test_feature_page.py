"""The Feature screen driven by Textual's pilot, on a tiny synthetic workspace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Static

from safer_tui.app import SaferApp
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.widgets.example_lines import ExampleLines
from tests.safer_tui.helpers import cell, settle, shown

pytestmark = pytest.mark.anyio
LABEL = re.compile(r"^(chosen|rejected|both|none) +(top|p\d\d) +\d+\.\d ")
PAIR = re.compile(r"^ *(\S+)? $")  # the label column under a label: blank, or a pair id


def examples_text(app: SaferApp) -> list[str]:
    """The examples' lines as the screen draws them."""
    widget = app.screen.query_one(ExampleLines)
    return [widget.render_line(y).text.rstrip() for y in range(widget.virtual_size.height)]


async def test_feature_page_shows_shaded_examples_and_moves(synthetic_workspace: Path) -> None:
    from safer_tui.screens.feature_page import FeatureScreen

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        order = shown(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FeatureScreen)
        assert app.screen.feature == order[0]
        text = "\n".join(examples_text(app))
        assert "rejected" in text or "chosen" in text
        await pilot.press("right_square_bracket")
        assert app.screen.feature == order[1]
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.screen.feature == order[-1]  # wraps around
        await pilot.press("u")
        await pilot.pause()
        assert app.data.labels()[order[-1]].tag == "unsafe"  # type: ignore[union-attr]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)
        # the tag made on the feature page shows in the list at once
        assert cell(app, order[-1], "tag") == "unsafe"


async def test_wrapped_examples_stay_in_their_column(synthetic_workspace: Path) -> None:
    from safer_tui.feature_text import LABEL_WIDTH

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(50, 60)) as pilot:  # narrow: examples wrap; tall: all shown
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        lines = [line for line in examples_text(app) if line.strip()]
        labelled = [line for line in lines if LABEL.match(line.lstrip())]
        wrapped = [line for line in lines if line not in labelled]
        assert labelled and wrapped
        # the label column is fixed: text starts at the same column on every line; under
        # each label, the id of the pair its example comes from
        assert all(PAIR.match(line[: LABEL_WIDTH + 1]) for line in wrapped)
        assert app.data is not None
        ids = {app.data.pair_id(p) for p in range(len(app.data.reader().store.pair_ids()))}
        assert sum(line[:LABEL_WIDTH].strip() in ids for line in wrapped) == len(labelled)
        assert all(line[LABEL_WIDTH] == " " for line in labelled)


async def test_the_whole_note_shows_even_with_brackets(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    note = "[b]refusals[/b] like 'I can't [help]' " + "and more words " * 12 + "[/]"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.data is not None
        app.data.note(shown(app)[0], note)
        await pilot.press("enter")
        await settle(app, pilot)
        stats = app.screen.query_one("#feature-stats", Static).content
        assert note in str(stats)


async def test_examples_scroll_with_j_and_k(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(50, 20)) as pilot:  # narrow and short: more lines than fit
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        widget = app.screen.query_one(ExampleLines)
        assert widget.virtual_size.height > widget.scrollable_content_region.height
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert widget.scroll_offset.y == 3
        fourth = "".join(segment.text for segment in widget.lines[3])
        assert widget.render_line(0).text.rstrip() == fourth.rstrip()
        await pilot.press("k")
        await pilot.pause()
        assert widget.scroll_offset.y == 2
        await pilot.press("right_square_bracket")  # a new page starts at its top
        await settle(app, pilot)
        assert widget.scroll_offset.y == 0


async def test_n_p_and_z_work_on_the_feature_page(synthetic_workspace: Path) -> None:
    from safer_tui.screens.dialogs import NoteScreen
    from safer_tui.screens.feature_page import FeatureScreen
    from safer_tui.screens.pairs import PairsScreen
    from tests.safer_tui.screens.test_pairs import scored

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        page = app.screen
        assert isinstance(page, FeatureScreen)
        feature = page.feature
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"says no", "enter")
        await settle(app, pilot)
        assert app.data is not None and app.data.labels()[feature].note == "says no"
        assert "note: says no" in str(page.query_one("#feature-stats", Static).content)
        await pilot.press("t", "z")
        await settle(app, pilot)
        assert app.data.labels()[feature].tag is None  # the tag undone, the note kept
        # each example names its pair under its label; p opens the pairs at the highlighted one
        widget = page.query_one(ExampleLines)
        assert widget.current == 0
        await pilot.press("j", "j", "j", "j")
        await pilot.pause()
        example = widget.current
        assert example > 0 and page.pairs[example] is not None
        label = "".join(s.text for s in widget.lines[widget.starts[example] + 1])
        assert label[:LABEL_WIDTH].strip() == app.data.pair_id(page.pairs[example])
        first = widget.render_line(widget.starts[example] - int(widget.scroll_offset.y))
        assert any(segment.style and segment.style.reverse for segment in first)  # highlighted
        await pilot.press("p")
        screen = await scored(app, pilot)
        assert isinstance(screen, PairsScreen) and screen.feature == feature
        assert screen.pair == page.pairs[example]


LABEL_WIDTH = 18


async def test_keys_typed_while_the_examples_are_read_wait_for_them(
    synthetic_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enter, j, j, p typed at once: the j's scroll the examples once they are there (not
    the list, nor the empty page, which the examples would scroll back to its top), and p
    opens the pairs at the example they reached."""
    import threading

    from safer_engine.service.explorer import Explorer
    from safer_tui.screens.feature_page import FeatureScreen
    from safer_tui.screens.pairs import PairsScreen
    from tests.safer_tui.helpers import send_at_once
    from tests.safer_tui.screens.test_pairs import scored

    read = threading.Event()
    examples = Explorer.examples

    def slow_examples(self: Explorer, feature: int) -> object:
        assert read.wait(10)
        return examples(self, feature)

    monkeypatch.setattr(Explorer, "examples", slow_examples)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        send_at_once(app, "enter", "j", "j", "p")
        page = app.screen
        for _ in range(100):  # a bound: the keys are handled one by one as the page opens
            await pilot.pause()
            page = app.screen
            if isinstance(page, FeatureScreen) and page.asked:
                break
        assert isinstance(page, FeatureScreen)
        widget = page.query_one(ExampleLines)
        assert widget.waiting and widget.scrolled == 2 and page.asked
        assert app.screen_stack[-2].query_one("#features").cursor == 0  # type: ignore[attr-defined]
        read.set()
        screen = await scored(app, pilot)
        assert isinstance(screen, PairsScreen)
        # two lines down: the second example (a label and its pair's id each)
        assert widget.current == 1 and widget.scroll_offset.y == 2
        assert page.pairs[1] != page.pairs[0] and screen.pair == page.pairs[1]
        await pilot.press("escape")
        await pilot.pause()
        send_at_once(app, "right_square_bracket", "j")  # the next page, one line down
        await settle(app, pilot)
        assert page.position == 1 and widget.scroll_offset.y == 1


async def test_p_opens_the_pairs_shading_this_feature_even_with_tags(
    synthetic_workspace: Path,
) -> None:
    from safer_tui.screens.pairs import PairsScreen
    from tests.safer_tui.screens.test_pairs import scored

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t")  # a safe tag: the Pairs screen alone would shade by the tags
        await pilot.pause()
        feature = shown(app)[app.screen.query_one("#features").cursor]  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("p")
        screen = await scored(app, pilot)
        assert isinstance(screen, PairsScreen) and screen.feature == feature
        assert screen.by_feature
        status = screen.query_one("#pairs-status", Static).render()
        assert f"shading by feature {feature} (h)" in str(status)


@pytest.mark.parametrize("width", [70, 72, 73, 100])
async def test_statistics_never_wrap_from_70_columns(tmp_path: Path, width: int) -> None:
    """Sums of millions make the figures table widest; a line that would not fit leaves out
    the mean activations rather than wrapping."""
    import polars as pl

    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace
    from safer_engine.workspace import Workspace

    root = build_synthetic_workspace(
        tmp_path / "ws", n_pairs=20, tokens_per_doc=12, n_latents=64, k=4
    )
    path = root / "sae" / Workspace.open(root).sae_ids()[-1] / "salience.parquet"
    table = pl.read_parquet(path)
    sums = [c for c in table.columns if c.startswith("sum_")]
    table.with_columns(pl.col(c) * 1e6 + 1e6 for c in sums).write_parquet(path)
    app = SaferApp(root, author="alice")
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        stats = app.screen.query_one("#feature-stats", Static)
        lines = str(stats.content).splitlines()
        assert "M / " in lines[2]  # the wide sums are there
        assert all(len(line) <= width - 2 for line in lines[:5])
        assert stats.size.height == len(lines)  # no line wrapped
        assert "mean act" in lines[1] or width < 72  # left out only where it would wrap


async def test_a_word_search_marks_its_tokens_in_the_examples(synthetic_workspace: Path) -> None:
    from safer_tui.screens.feature_page import FeatureScreen
    from tests.safer_tui.helpers import ask

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await ask(pilot, "w", *"SORRY")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        page = app.screen
        assert isinstance(page, FeatureScreen) and "word SORRY" in page.sub_title
        widget = page.query_one(ExampleLines)
        segments = [segment for line in widget.lines for segment in line]
        marked = [s.text for s in segments if s.style is not None and s.style.reverse]
        assert marked and all(text.lower() == "sorry" for text in marked)
        # every token "sorry" of the examples is marked, in whatever case the data has it
        tokens = [
            text
            for _, chunks in widget.rows
            for text, _ in chunks
            if text.strip().lower() == "sorry"
        ]
        assert len(marked) == len(tokens)
        await pilot.press("escape")
        await pilot.press("escape")  # the word search ends: examples as they were
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        widget = app.screen.query_one(ExampleLines)
        assert not any(
            s.style is not None and s.style.reverse for line in widget.lines for s in line
        )
