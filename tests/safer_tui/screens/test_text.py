"""The data's own text on the Feature and Pairs screens at 80×24 (not the model's lowercased
tokens), the unread end of a cut response, an older store's token text with its hint, and
which tokens the statistics cover."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import polars as pl
import pytest
from rich.style import Style
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from safer_engine.service.text import STOP, plain_text
from safer_tui.app import SaferApp
from safer_tui.screens.feature_page import FeatureScreen
from safer_tui.screens.pairs import PairsScreen
from safer_tui.widgets.prompt_view import PromptView
from tests.safer_tui.helpers import cell, settle, status, table
from tests.safer_tui.screens.test_feature_page import examples_text
from tests.safer_tui.screens.test_pairs import scored, shown

pytestmark = pytest.mark.anyio
FIXTURE_V1 = Path(__file__).parents[2] / "fixtures" / "workspace_v1"


def uncased(root: Path) -> Path:
    """The store's token pieces lowercased, as MiniLM's uncased tokenizer re-joins them: only
    the data's own texts keep their case."""
    from safer_engine.store.reader import StoreReader
    from safer_engine.store.writer import blob

    with StoreReader(root / "store.h5") as store:
        pieces = [p.lower().encode() for p in store.pieces]
    data, offsets = blob(pieces)
    with h5py.File(root / "store.h5", "r+") as f:
        for name, array in (("vocab/bytes", data), ("vocab/offsets", offsets)):
            del f[name]
            f.create_dataset(name, data=array)
    return root


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    return uncased(build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4))


@pytest.fixture
def long_texts(tmp_path: Path) -> Path:
    """Documents of 120 tokens: responses longer than a panel at 80×24."""
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    return uncased(build_synthetic_workspace(tmp_path / "long", 6, 120, 64, 4))


def side(screen: PairsScreen, name: str) -> str:
    return shown(screen, f"#{name}-text").plain


async def test_the_pairs_screen_shows_the_datas_own_text(synthetic: Path) -> None:
    app = SaferApp(synthetic, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")
        screen = await scored(app, pilot)
        store = app.data.reader().store  # type: ignore[union-attr]
        ranking = screen.ranking
        assert ranking is not None
        # a pair whose chosen response the model read only in part
        row = next(
            r
            for r, pair in enumerate(ranking.order.tolist())
            if len(store.doc_response(int(store.chosen_doc[pair])))
            > int(store.char_end[int(store.resp_end[int(store.chosen_doc[pair])]) - 1])
        )
        screen.query_one(DataTable).move_cursor(row=row)
        await pilot.pause()
        pair = screen.pair
        assert pair is not None
        chosen, rejected = int(store.chosen_doc[pair]), int(store.rejected_doc[pair])
        for name, doc in (("chosen", chosen), ("rejected", rejected)):
            text = store.doc_response(doc)
            assert text[0].isupper()  # the data's case: the pieces are all lowercase
            assert side(screen, name).replace(STOP, "") == text
        read, unread = side(screen, "chosen").split(STOP)
        assert read and unread and store.doc_response(chosen).endswith(unread)
        assert screen.query_one("#chosen-side").border_subtitle == "✂ the model read no further"
        prompt = screen.query_one(PromptView).render().plain  # type: ignore[union-attr]
        assert prompt == f"prompt {store.doc_prompt(chosen)}" and prompt[7].isupper()


async def test_long_responses_scroll_with_shift_j_and_k(long_texts: Path) -> None:
    app = SaferApp(long_texts, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        screen = await scored(app, pilot)
        panels = [screen.query_one(f"#{n}-side", VerticalScroll) for n in ("chosen", "rejected")]
        assert all(p.max_scroll_y > 0 for p in panels)  # more text than the panel shows
        await pilot.press("J")
        await pilot.pause()
        assert all(p.scroll_y > 0 for p in panels)
        await pilot.press("K")
        await pilot.pause()
        assert all(p.scroll_y == 0 for p in panels)
        await pilot.press("J", "J", "j")  # the next pair starts at its top
        await pilot.pause()
        assert all(p.scroll_y == 0 for p in panels)


async def test_the_feature_page_shows_the_datas_own_text(synthetic: Path) -> None:
    app = SaferApp(synthetic, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FeatureScreen)
        store = app.data.reader().store  # type: ignore[union-attr]
        found, _ = app.data.examples(app.screen.feature)  # type: ignore[union-attr]
        for example in found:
            response = [s for s in example.spans if s.part == "response"]
            assert plain_text(response) in store.doc_response(example.doc)
        lines = examples_text(app)
        # the response starts with its capital letter, right after the bar
        assert any(re.search(r"▍[A-Z]", line) for line in lines)
        assert not any(re.search(r"▍ ?[a-z]", line) for line in lines)
        stats = str(app.screen.query_one("#feature-stats", Static).render())
        coverage = app.data.coverage  # type: ignore[union-attr]
        assert f"{coverage.selected_text()}  " in stats and "sentence-end tokens" in stats
        assert coverage.every_text() in stats  # all tokens, beside the selected ones


async def test_the_feature_list_says_what_the_statistics_cover(synthetic: Path) -> None:
    app = SaferApp(synthetic, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # last on the line, so at 80 columns it shows only when the rest leaves room for it
        assert re.search(r"(stats on \d+ sentence-end tokens|never fire \(F\))$", status(app))
        assert "all ch" not in [c.name for c in table(app).columns()]  # too narrow here
    app = SaferApp(synthetic, author="alice")
    async with app.run_test(size=(130, 30)) as pilot:
        await pilot.pause()
        assert re.search(r"stats on \d+ sentence-end tokens$", status(app))
        names = [c.name for c in table(app).columns()]
        assert "all ch" in names and "all rej" in names
        features = pl.read_parquet(next((synthetic / "sae").iterdir()) / "salience.parquet").sort(
            "rank"
        )
        top = int(features["feature"][0])
        assert cell(app, top, "all rej") == f"{features['fire_rate_rejected_all'][0]:.3f}"


async def test_zero_salience_is_neither_green_nor_red(features_workspace) -> None:  # type: ignore[no-untyped-def]
    root = features_workspace(12)
    path = next((root / "sae").iterdir()) / "salience.parquet"
    frame = pl.read_parquet(path)
    salience = [
        0.0 if f == 11 else 1e-5 if f == 10 else s
        for f, s in zip(frame["feature"], frame["salience"], strict=True)
    ]
    frame.with_columns(salience=pl.Series(salience)).write_parquet(path)
    app = SaferApp(root, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = table(app)
        assert cell(app, 11, "salience") == "+0.000" == cell(app, 10, "salience")
        assert widget._cell_style("salience", "+0.000") == Style()
        assert widget._cell_style("salience", "-0.000") == Style()
        assert widget._cell_style("salience", "+0.120").color is not None
        assert widget._cell_style("salience", "-0.120").color is not None


async def test_a_version_1_workspace_opens_with_token_text_and_a_hint(tmp_path: Path) -> None:
    root = Path(shutil.copytree(FIXTURE_V1, tmp_path / "ws"))
    app = SaferApp(root, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert status(app).endswith("stats on response tokens")  # the extract stage's policy
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FeatureScreen)
        stats = str(app.screen.query_one("#feature-stats", Static).render())
        assert "predates the data's own text" in stats and "safer extract --force" in stats
        assert any("▍" in line for line in examples_text(app))
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("p")
        screen = await scored(app, pilot)
        assert "predates the data's own text" in shown(screen, "#pairs-status").plain
        assert side(screen, "chosen").strip()
