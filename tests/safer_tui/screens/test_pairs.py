"""The Pairs screen driven by Textual's pilot, on a tiny synthetic workspace."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, ProgressBar, Static

import safer_engine.scores.stage as stage_module
from safer_engine.errors import StoreError
from safer_engine.progress import CancelToken
from safer_engine.service.text import Span, plain_text
from safer_tui.app import SaferApp
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.pairs import PairsScreen
from safer_tui.widgets.progress_line import ProgressLine
from safer_tui.widgets.prompt_view import PromptView
from tests.safer_tui.helpers import settle

pytestmark = pytest.mark.anyio


async def scored(app: SaferApp, pilot: Pilot[None]) -> PairsScreen:
    """The Pairs screen once its scoring worker has finished and its result is shown."""
    await app.workers.wait_for_complete()
    screen = app.screen
    assert isinstance(screen, PairsScreen)
    for _ in range(200):  # a bound, not a timing: the result arrives as a posted message
        await pilot.pause()
        if not screen.query_one(ProgressLine).busy:
            break
    return screen


def shown(screen: PairsScreen, selector: str) -> Text:
    content = screen.query_one(selector, Static).content
    return content if isinstance(content, Text) else Text(str(content))


def backgrounds(screen: PairsScreen) -> set[tuple[int, int, int]]:
    """Background colours of the tokens on both sides."""
    found: set[tuple[int, int, int]] = set()
    for side in ("#chosen-text", "#rejected-text"):
        for span in shown(screen, side).spans:
            style = span.style
            if not isinstance(style, str) and style.bgcolor is not None:
                r, g, b = style.bgcolor.get_truecolor()
                found.add((r, g, b))
    return found


async def test_pairs_ranked_by_tag_scores_side_by_side(synthetic_workspace: Path) -> None:
    from safer_tui.screens.feature_page import FeatureScreen

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")  # first feature safe, second unsafe, open pairs
        screen = await scored(app, pilot)
        assert (len(screen.safe), len(screen.unsafe)) == (1, 1)
        assert not screen.query_one(ProgressLine).busy  # hidden once the scores arrived
        assert not screen.query_one(ProgressLine).display
        assert not screen.query_one("#pairs-notice").display
        assert "from tags" in screen.sub_title
        pairs = screen.query_one("#pairs", DataTable)
        assert pairs.row_count == 20
        scores = [float(pairs.get_cell_at(Coordinate(r, 1))) for r in range(pairs.row_count)]
        assert scores == sorted(scores, reverse=True)
        assert "Strongest (chosen − rejected)" in shown(screen, "#pair-features").plain
        assert shown(screen, "#chosen-text").plain.strip()
        assert "20 pairs" in shown(screen, "#pairs-status").plain
        await pilot.press("j")
        await pilot.pause()
        assert screen.pair is not None and screen.ranking is not None
        examples, pair = app.data.reader(), screen.pair  # type: ignore[union-attr]
        chosen = int(examples.store.chosen_doc[pair])
        info = shown(screen, "#pair-info").plain
        assert examples.pair_id(pair) in info and f"{screen.ranking.scores[pair]:+.3f}" in info
        assert "train" in info or "test" in info
        s_chosen, s_rejected = screen.ranking.s_chosen[pair], screen.ranking.s_rejected[pair]
        assert screen.query_one("#chosen-side").border_title == f"chosen · S = {s_chosen:+.3f}"
        assert screen.query_one("#rejected-side").border_title == (
            f"rejected · S = {s_rejected:+.3f}"
        )
        assert screen.ranking.scores[pair] == pytest.approx(s_chosen - s_rejected)
        assert "score mostly from:" in shown(screen, "#pair-features").plain
        prompt = screen.query_one(PromptView)
        assert plain_text(prompt.spans) == examples.store.doc_prompt(chosen) != ""
        assert plain_text(prompt.spans).split()[-1] in prompt.render().plain  # type: ignore[union-attr]
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, FeatureScreen)
        assert app.screen.feature == screen.strongest[0][0]


async def test_h_switches_between_tagged_and_one_feature_shading(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u")
        assert app.data is not None
        app.push_screen(PairsScreen(app.data))  # no feature picked: h uses the strongest
        screen = await scored(app, pilot)
        assert not screen.by_feature
        assert "safety features" in shown(screen, "#pairs-status").plain
        tagged = backgrounds(screen)
        # green (safe) blends have r < g, red (unsafe) ones g == b: never the orange r > g > b
        assert tagged and not any(r > g > b for r, g, b in tagged)
        await pilot.press("h")
        await pilot.pause()
        assert screen.by_feature
        strongest = screen.strongest[0][0]
        assert f"feature {strongest}, pair's strongest" in shown(screen, "#pairs-status").plain
        one = backgrounds(screen)
        assert one and all(r > g > b for r, g, b in one)
        assert (255, 140, 0) in one  # the strongest token of the two sides at full strength
        await pilot.press("h")
        await pilot.pause()
        assert backgrounds(screen) == tagged


async def test_no_tags_says_so_and_shades_the_feature_passed_in(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.data is not None
        feature = int(app.data.features["feature"][0])
        app.push_screen(PairsScreen(app.data, feature))
        screen = await scored(app, pilot)
        notice = shown(screen, "#pairs-notice").plain
        assert "Nothing is tagged or judged yet" in notice and "|salience|" in notice
        assert screen.ranking is not None and screen.ranking.selection.by_salience_alone
        assert "from salience" in screen.sub_title
        assert screen.by_feature  # tagged shading would be blank
        status = shown(screen, "#pairs-status").plain
        assert f"feature {feature}" in status and "strongest" not in status
        assert all(r > g > b for r, g, b in backgrounds(screen))  # that feature's colour
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)


@pytest.mark.parametrize("key", ["escape", "q"])
async def test_leaving_while_scoring_cancels_it(
    synthetic_workspace: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    started, stopped = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def slow_scores(*args: object, **kwargs: object) -> np.ndarray:
        progress, cancel = args[7], args[8]
        assert callable(progress) and isinstance(cancel, CancelToken)
        progress("scoring pairs", 1, 4)
        started.set()
        for _ in range(1000):  # a bound, not a timing: returns as soon as it is cancelled
            if cancel.cancelled:
                break
            time.sleep(0.01)
        seen["cancelled"] = cancel.cancelled
        stopped.set()
        cancel.check("scoring pairs")
        return np.zeros((int(args[4]), len(args[5])))  # type: ignore[arg-type]

    monkeypatch.setattr(stage_module, "doc_feature_means", slow_scores)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "p")
        assert isinstance(app.screen, PairsScreen)
        for _ in range(100):
            await pilot.pause(0.02)
            bar = app.screen.query_one(ProgressBar)
            if started.is_set() and bar.total == 4:
                break
        assert (bar.progress, bar.total) == (1, 4)
        assert app.screen.query_one(ProgressLine).display
        assert app.screen.query_one(DataTable).row_count == 0  # still scoring
        await pilot.press("h")  # keys work while it scores
        await pilot.press(key)
        await pilot.pause()
        if key == "escape":
            assert isinstance(app.screen, FeaturesScreen)
    assert stopped.wait(10)
    assert seen["cancelled"]


async def test_keys_typed_before_the_scores_move_along_the_list(
    synthetic_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """p, j, j typed at once: the list is empty while the pairs are scored; the j's move
    along it once it is there."""
    from tests.safer_tui.helpers import send_at_once

    release = threading.Event()
    means = stage_module.doc_feature_means

    def held_scores(*args: object, **kwargs: object) -> np.ndarray:
        assert release.wait(10)
        return means(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stage_module, "doc_feature_means", held_scores)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        send_at_once(app, "p", "j", "j")
        screen = app.screen
        for _ in range(100):  # a bound: the keys are handled one by one as the screen opens
            await pilot.pause()
            screen = app.screen
            if isinstance(screen, PairsScreen) and len(screen.typed) == 2:
                break
        assert isinstance(screen, PairsScreen) and len(screen.typed) == 2
        assert screen.query_one(DataTable).row_count == 0  # still scoring
        release.set()
        screen = await scored(app, pilot)
        table = screen.query_one("#pairs", DataTable)
        assert table.cursor_row == 2 and screen.pair == listed(screen)[2]
        assert not screen.typed


async def test_a_failure_while_scoring_is_a_message_not_a_crash(
    synthetic_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> np.ndarray:
        raise StoreError("The codes file is truncated.", "Run `safer encode --force`.")

    monkeypatch.setattr(stage_module, "doc_feature_means", broken)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "p")
        screen = await scored(app, pilot)
        assert "Could not score pairs: The codes file is truncated." in (
            shown(screen, "#pairs-status").plain
        )
        assert not screen.query_one(ProgressLine).busy
        assert screen.query_one(DataTable).row_count == 0


async def test_a_long_prompt_is_cut_with_an_ellipsis_until_o(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "p")
        screen = await scored(app, pilot)
        prompt = screen.query_one(PromptView)
        long = " ".join(f"word{i}" for i in range(200))
        prompt.show([Span(long, "prompt")], expanded=False)
        await pilot.pause()
        cut = prompt.render()
        assert isinstance(cut, Text)
        assert len(cut.plain.splitlines()) == 3 and cut.plain.endswith("…")
        await pilot.press("o")
        await pilot.pause()
        assert screen.query_one("#pair-prompt-scroll").has_class("expanded")
        full = prompt.render()
        assert isinstance(full, Text) and "word199" in full.plain


async def test_p_passes_the_feature_under_the_cursor(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("j", "j")
        picked = app.screen.current_feature()  # type: ignore[attr-defined]
        await pilot.press("p")
        screen = await scored(app, pilot)
        assert screen.feature == picked


async def test_tags_that_score_nothing_are_explained(synthetic_workspace: Path) -> None:
    from safer_tui.screens.pairs import ZERO_SCORES

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.data is not None
        app.data.tag([99999], "safe")  # imported from a CSV of another SAE: weighs nothing
        app.push_screen(PairsScreen(app.data))
        screen = await scored(app, pilot)
        assert screen.ranking is not None and not screen.ranking.scores.any()
        assert ZERO_SCORES in str(screen.query_one("#pairs-notice", Static).render())


async def test_a_benchmark_workspace_marks_the_flipped_pairs(synthetic_workspace: Path) -> None:
    import polars as pl

    path = synthetic_workspace / "data" / "pairs.parquet"
    pairs = pl.read_parquet(path)
    flipped = pairs["pair_id"][:2].to_list()
    pairs.with_columns(pl.col("pair_id").is_in(flipped).alias("flipped")).write_parquet(path)
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        screen = await scored(app, pilot)
        table = screen.query_one("#pairs", DataTable)
        assert "flipped" in table.columns
        marks = [table.get_cell_at(Coordinate(r, 4)) for r in range(table.row_count)]
        assert marks.count("✗") == 2
        row = marks.index("✗")
        table.move_cursor(row=row)
        await pilot.pause()
        assert "flipped by the benchmark" in shown(screen, "#pair-info").plain


async def test_other_workspaces_have_no_flipped_column(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        screen = await scored(app, pilot)
        assert "flipped" not in screen.query_one("#pairs", DataTable).columns
        assert "flipped" not in shown(screen, "#pair-info").plain


def listed(screen: PairsScreen) -> list[int]:
    table = screen.query_one("#pairs", DataTable)
    return [
        int(str(table.coordinate_to_cell_key(Coordinate(r, 0)).row_key.value))
        for r in range(table.row_count)
    ]


async def test_jumps_sorts_filters_and_search(synthetic_workspace: Path) -> None:
    from tests.safer_tui.helpers import ask

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("t", "u", "p")
        screen = await scored(app, pilot)
        assert screen.ranking is not None
        ranking = screen.ranking
        table = screen.query_one("#pairs", DataTable)
        await pilot.press("greater_than_sign")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("less_than_sign")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("s")  # by slice, then score
        await pilot.pause()
        order = listed(screen)
        keys = [(ranking.slice_of(p), -ranking.scores[p]) for p in order]
        assert keys == sorted(keys) and "sort slice ↑" in shown(screen, "#pairs-status").plain
        await pilot.press("s")  # by pair
        await pilot.pause()
        assert listed(screen) == sorted(listed(screen))
        await pilot.press("S")
        await pilot.pause()
        assert listed(screen) == sorted(listed(screen), reverse=True)
        await pilot.press("s")  # back to score
        await pilot.pause()
        slices = sorted({ranking.slice_of(p) for p in range(len(ranking.scores))})
        await pilot.press("f")
        await pilot.pause()
        assert {ranking.slice_of(p) for p in listed(screen)} == {slices[0]}
        assert f"slice {slices[0]}" in shown(screen, "#pairs-status").plain
        await pilot.press("F")
        await pilot.pause()
        first_split = sorted({ranking.split_of(p) for p in range(len(ranking.scores))})[0]
        assert all(ranking.split_of(p) == first_split for p in listed(screen))
        for _ in slices:  # round to all slices again
            await pilot.press("f")
        await pilot.press("F", "F")
        await pilot.pause()
        assert len(listed(screen)) == len(ranking.scores)
        # search: any case, in the prompt or either response
        assert app.data is not None
        store = app.data.reader().store
        word = store.doc_prompt(int(store.chosen_doc[0])).split()[-1].strip("?.!,")
        await ask(pilot, "slash", *word.upper())
        await settle(app, pilot)
        found = listed(screen)
        assert 0 in found and len(found) <= len(ranking.scores)
        for pair in found:
            docs = (int(store.chosen_doc[pair]), int(store.rejected_doc[pair]))
            texts = [store.doc_prompt(docs[0]), *map(store.doc_response, docs)]
            assert any(word.lower() in text.lower() for text in texts)
        assert f"search {word.upper()}"[:20] in shown(screen, "#pairs-status").plain
        await ask(pilot, "slash", *"no pair says qzxv")
        await settle(app, pilot)
        assert listed(screen) == [] and screen.pair is None
        assert "No pair matches" in shown(screen, "#pair-info").plain
        await ask(pilot, "slash")  # empty: every pair again
        await pilot.pause()
        assert len(listed(screen)) == len(ranking.scores)


async def test_tags_made_from_the_pairs_own_feature_page_rescore(synthetic_workspace: Path) -> None:
    from safer_tui.screens.feature_page import FeatureScreen

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("t", "p")
        screen = await scored(app, pilot)
        await pilot.press("j", "j")
        await pilot.pause()
        pair = screen.pair
        assert screen.ranking is not None and len(screen.safe) == 1
        await pilot.press("g")  # the pair's strongest feature
        await settle(app, pilot)
        page = app.screen
        assert isinstance(page, FeatureScreen)
        strongest = page.feature
        await pilot.press("u")  # tagged unsafe there
        await pilot.pause()
        await pilot.press("escape")
        screen = await scored(app, pilot)
        assert strongest in screen.unsafe  # rescored with the new tag
        assert screen.pair == pair  # on the same pair
        assert screen.ranking is not None and screen.ranking.selection.unsafe == [strongest]


async def test_slash_opens_empty_so_enter_clears_the_search(synthetic_workspace: Path) -> None:
    from textual.widgets import Input

    from tests.safer_tui.helpers import ask

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        screen = await scored(app, pilot)
        total = len(listed(screen))
        await ask(pilot, "slash", *"no pair says qzxv")
        await settle(app, pilot)
        assert listed(screen) == []
        await pilot.press("slash")
        await pilot.pause()
        field = app.screen.query_one(Input)
        assert field.value == "" and field.placeholder.startswith('now: "no pair says qzxv"')
        assert "Enter on nothing clears" in field.placeholder
        await pilot.press("enter")  # on nothing: the search is cleared
        await settle(app, pilot)
        assert len(listed(screen)) == total and "search" not in shown(screen, "#pairs-status")


async def test_judged_features_below_the_threshold_are_not_called_unjudged(
    synthetic_workspace: Path,
) -> None:
    from safer_engine.labels import LabelStore
    from safer_engine.workspace import Workspace
    from tests.safer_tui.conftest import add_judgements

    sae = Workspace.open(synthetic_workspace).sae_ids()[-1]
    with LabelStore.open(synthetic_workspace / "labels.sqlite", author="alice") as labels:
        add_judgements(labels, {f: 2 + f % 3 for f in range(6)}, sae=sae)  # 2 to 4: below 5
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        screen = await scored(app, pilot)
        notice = shown(screen, "#pairs-notice").plain
        assert "judged yet" not in notice
        assert "none of the 6 judged features scored 5 or more" in notice
