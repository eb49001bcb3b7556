"""The Features screen driven by Textual's pilot, on a tiny synthetic workspace."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safer_engine.analysis.word_search import WordMatches
from safer_engine.labels import LabelStore
from safer_engine.progress import CancelToken, Progress
from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp
from safer_tui.feature_view import status_text
from safer_tui.screens.feature_list import FeaturesScreen, NoteScreen
from safer_tui.widgets.status_line import StatusLine
from tests.safer_tui.helpers import (
    ask,
    cell,
    first_feature,
    sae_id,
    settle,
    shown,
    status,
    table,
)

pytestmark = pytest.mark.anyio


async def test_features_are_ranked_by_abs_salience(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)
        features = pl.read_parquet(
            Workspace.open(synthetic_workspace).sae_dir(sae_id(synthetic_workspace))
            / "salience.parquet"
        )
        firing = app.screen.data.features.filter(pl.col("density") > 0)["feature"].to_list()
        silent = features.height - len(firing)
        assert 0 < silent < features.height  # the fixture's SAE has a few dead latents
        assert sorted(shown(app)) == sorted(firing)
        assert f"{silent} never fire (F)" in status(app)
        top = int(features.sort("abs_salience", descending=True, maintain_order=True)["feature"][0])
        assert first_feature(app) == top
        await pilot.press("F")
        await pilot.pause()
        assert len(shown(app)) == features.height and "never fire" not in status(app)


@pytest.mark.parametrize("width", [80, 160])
async def test_the_status_line_leaves_out_whole_items_never_cuts_one(
    synthetic_workspace: Path, width: int
) -> None:
    app = SaferApp(synthetic_workspace)
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        await pilot.press("space", "space", "f")  # two marks, the untagged filter
        await pilot.pause()
        items = [item.plain for item in status_text(screen.view, screen.data)]
        parts = status(app).split(" · ")
        assert set(parts) <= set(items) and len(status(app)) <= width - 2  # none cut
        # what a user set comes first, in order; the notes about the data last
        assert parts[:4] == items[:4]
        assert items[1:4] == ["2 marked", "sort |salience| ↓", "filter untagged"]
        assert items[-2].endswith("never fire (F)") and items[-1].startswith("stats on")
        assert (parts == items) == (width == 160)  # at 80 columns the notes are left out


async def test_a_tag_persists_to_sqlite_and_survives_a_restart(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        feature = first_feature(app)
        await pilot.press("u")
        await pilot.pause()
    with LabelStore.open(synthetic_workspace / "labels.sqlite") as labels:
        label = labels.current(sae_id(synthetic_workspace))[feature]
        assert (label.tag, label.author) == ("unsafe", "alice")
    again = SaferApp(synthetic_workspace, author="bob")
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert cell(again, feature, "tag") == "unsafe"


async def test_bulk_tag_of_marked_rows_and_a_note(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("space", "j", "space", "t")
        await pilot.pause()
        tagged = {f: label.tag for f, label in app.data.labels().items()}  # type: ignore[union-attr]
        assert list(tagged.values()) == ["safe", "safe"]
        await pilot.press("k", "n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"refusal", "enter")
        await pilot.pause()
        notes = [label.note for label in app.data.labels().values()]  # type: ignore[union-attr]
        assert "refusal" in notes


async def test_sort_and_filter(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")  # from salience to the next column: firing rate on chosen
        await pilot.pause()
        rates = [float(cell(app, f, "chosen")) for f in shown(app)]
        assert rates == sorted(rates, reverse=True)
        assert "sort chosen ↓" in status(app)
        await pilot.press("S")
        await pilot.pause()
        assert [float(cell(app, f, "chosen")) for f in shown(app)] == sorted(rates)
        await pilot.press("t", "f", "f")  # tag one safe; filter: firing → untagged → safe
        await pilot.pause()
        assert len(shown(app)) == 1
        assert "filter safe" in status(app)
        await pilot.press("F", "F")  # back to the default, which the status line leaves out
        await pilot.pause()
        assert "filter" not in status(app)
        await pilot.press("F")
        await pilot.pause()
        assert "filter all" in status(app)


async def test_search_by_note_and_by_id(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        feature = first_feature(app)
        await ask(pilot, "n", *"Refusal phrase")
        await pilot.pause()
        await ask(pilot, "slash", *"refusal")
        await pilot.pause()
        assert len(shown(app)) == 1
        assert first_feature(app) == feature
        await ask(pilot, "slash", *str(feature + 1))
        await pilot.pause()
        assert first_feature(app) == feature + 1
        await ask(pilot, "slash")
        await pilot.pause()
        assert len(shown(app)) > 1


async def test_clicking_a_header_sorts_by_that_column(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(30))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        widget = table(app)
        before = [c.name for c in widget.columns()].index("density")
        x = widget.region.x + 2 + sum(w + 1 for w in widget.widths()[:before]) + 2
        await pilot.click(offset=(x, table(app).region.y))
        await pilot.pause()
        densities = [float(cell(app, f, "density")) for f in shown(app)]
        assert densities == sorted(densities, reverse=True)
        await pilot.click(offset=(x, table(app).region.y))  # again: the other way
        await pilot.pause()
        assert [float(cell(app, f, "density")) for f in shown(app)] == sorted(densities)


async def test_tagging_under_the_untagged_filter_moves_on(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(30), author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f")  # untagged
        await pilot.pause()
        first, second = shown(app)[:2]
        await pilot.press("i")
        await pilot.pause()
        assert first not in shown(app)
        assert app.screen.current_feature() == second  # type: ignore[attr-defined]


async def test_tags_from_another_explorer_show_up(features_workspace) -> None:  # type: ignore[no-untyped-def]
    root = features_workspace(30)
    app = SaferApp(root, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        with LabelStore.open(root / "labels.sqlite", author="bob") as theirs:
            theirs.tag(sae_id(root), 17, "unsure")
        app.screen.poll_labels()  # type: ignore[attr-defined]  # what the 2 s timer calls
        await pilot.pause()
        assert cell(app, 17, "tag") == "unsure"


async def test_only_visible_lines_are_drawn_and_the_end_is_reachable(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(5000))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("G")
        await pilot.pause()
        widget = table(app)
        last = shown(app)[-1]
        assert app.screen.current_feature() == last  # type: ignore[attr-defined]
        bottom = widget.render_line(widget.scrollable_content_region.height - 1).text
        assert bottom.split()[0] == str(last)
        assert widget.render_line(0).text.split()[0] == "feature"  # the header stays
        await pilot.press("g", "j", "j")
        assert app.screen.current_feature() == shown(app)[2]  # type: ignore[attr-defined]


def most_common_word(root: Path) -> str:
    from collections import Counter

    from safer_engine.store.reader import StoreReader

    with StoreReader(Workspace.open(root).store_path) as store:
        counts = Counter(int(store.token_ids[int(r)]) for r in store.token_row)
        return next(
            store.pieces[t].strip() for t, _ in counts.most_common() if store.pieces[t].strip()
        )


async def test_word_search_lists_features_by_lift_in_a_worker(synthetic_workspace: Path) -> None:
    from safer_tui.widgets.progress_line import ProgressLine

    word = most_common_word(synthetic_workspace)
    app = SaferApp(synthetic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        total = len(shown(app))
        await ask(pilot, "w", *word)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert f"on {word!r}" in status(app)  # the message says the word...
        app.screen.query_one(StatusLine).unsay()  # ...and once it is gone, the line does
        assert f"word {word}" in status(app)
        view = table(app).view
        lifts = view.values["lift"][view.order]  # the cells round to 2 decimals
        assert 0 < len(lifts) <= total
        assert (np.diff(lifts) <= 0).all() and lifts[-1] > 0
        assert "lift" in [c.name for c in table(app).columns()]
        assert not app.screen.query_one(ProgressLine).busy
        await pilot.press("escape")  # back to all features
        await pilot.pause()
        assert len(shown(app)) == total
        assert "lift" not in [c.name for c in table(app).columns()]
        assert "word" not in status(app)


async def test_escape_cancels_a_running_word_search(synthetic_workspace: Path) -> None:
    from safer_tui.widgets.progress_line import ProgressLine

    app = SaferApp(synthetic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        line = screen.query_one(ProgressLine)
        line.start("features on 'x'")

        def until_cancelled(progress: Progress, cancel: CancelToken) -> WordMatches:
            while True:  # a search over a store too big to end before the key
                cancel.check("searching")
                time.sleep(0.01)

        screen.word_search.start(until_cancelled, line)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not line.busy and not screen.word_search.running
        await ask(pilot, "w", *"zqxjv")  # matches no token: a message, no crash
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "word" not in status(app)


async def test_a_new_sort_starts_at_its_top_and_an_empty_list_says_why(
    features_workspace,  # type: ignore[no-untyped-def]
) -> None:
    app = SaferApp(features_workspace(40))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("j", "j", "j", "s")
        await pilot.pause()
        assert app.screen.current_feature() == shown(app)[0]  # type: ignore[attr-defined]
        await ask(pilot, "slash", *"nothing like this")
        widget = table(app)
        assert shown(app) == []
        assert "No feature matches" in widget.render_line(1).text
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Sort by density" in titles
        assert "Sort by mean Δ" not in titles  # not shown at 80 columns
        assert "Sort by lift" not in titles  # only during a word search


async def test_the_list_comes_back_to_the_feature_left_on_its_page(
    synthetic_workspace: Path,
) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        order = shown(app)
        await pilot.press("j", "enter")
        await settle(app, pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.press("escape")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        assert screen.current_feature() == order[3]
        await pilot.press("k")
        assert screen.current_feature() == order[2]
        # back from the pairs (no feature page left open) the list stays where it was
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert screen.current_feature() == order[2]


async def test_a_tag_says_it_moved_on_and_z_undoes_it(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(30), author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first, second = shown(app)[:2]  # 0 is tagged unsafe, 1 safe
        await pilot.press("i")
        await pilot.pause()
        assert cell(app, first, "tag") == "irrelevant"
        assert app.screen.current_feature() == second  # type: ignore[attr-defined]
        assert f"feature {first}: irrelevant · on to the next row · z undoes" in status(app)
        assert not app._notifications  # said in the status line, not over the table
        await pilot.press("space", "j", "space", "x")  # two marked features cleared
        await pilot.pause()
        assert "2 features: no tag · z undoes" in status(app)
        assert cell(app, second, "tag") == ""
        await pilot.press("z")
        await pilot.pause()
        assert cell(app, second, "tag") == "safe"
        # what the features are back to, not the tag undone (which would read as the tag now)
        assert "undone: 2 features back to their tags (1 safe, 1 no tag)" in status(app)
        await pilot.press("z")
        await pilot.pause()
        assert cell(app, first, "tag") == "unsafe"
        assert f"undone: feature {first} back to unsafe" in status(app)
        assert app.screen.current_feature() == first  # type: ignore[attr-defined]
        await pilot.press("z")
        await pilot.pause()
        assert "Nothing to undo" in status(app)
        with LabelStore.open(app.workspace_path / "labels.sqlite") as labels:
            rows = [r.tag for r in labels.history(sae_id(app.workspace_path), first)]
        assert rows == ["unsafe", "irrelevant", "unsafe"]  # append-only: undo is a row too


async def test_read_only_labels_say_so_instead_of_opening_the_note(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(12), author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.data is not None
        app.data.read_only = True  # as when labels.sqlite cannot be written
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, FeaturesScreen)
        assert "Labels are read-only here: notes cannot be saved." in status(app)
        await pilot.press("t")
        await pilot.pause()
        assert "tags cannot be saved" in status(app) and cell(app, 0, "tag") == "unsafe"


async def test_a_long_search_never_hides_the_marks_or_the_word(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(30), author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        await pilot.press("space")
        screen.view.word = "sorry"  # as a word search leaves it
        await ask(pilot, "slash", *"a very long search for some words in the notes")
        line = status(app)
        assert line.index("1 marked") < line.index("word sorry") < line.index("search a very")
        assert line.endswith("search a very long sea…")
        assert line.index("word sorry") + len("word sorry") < 78  # seen at 80 columns


async def test_a_word_searchs_pieces_are_each_said_once(features_workspace) -> None:  # type: ignore[no-untyped-def]
    from safer_engine.analysis.word_search import WordMatches

    app = SaferApp(features_workspace(12))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        found = WordMatches(
            "i",
            [" i", "i", "I", " i"],
            40,
            np.array([2, 5]),
            np.array([3.0, 2.0]),
            np.zeros(2),
            np.zeros(2),
        )
        screen.show_word(found)
        await pilot.pause()
        assert "2 fire more on 'i', 'I' (40 tokens) · Esc: all" in status(app)
        assert shown(app) == [2, 5]


async def test_a_word_search_at_80_columns_cuts_nothing_mid_word(features_workspace) -> None:  # type: ignore[no-untyped-def]
    from safer_engine.analysis.word_search import WordMatches
    from tests.safer_tui.helpers import screen_lines

    app = SaferApp(features_workspace(12))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FeaturesScreen)
        pieces = [" apology", " apologies", " apologise", " apologize", " apologetic"]
        found = WordMatches(
            "apolog*", pieces, 12345, np.array([1, 2]), np.array([3.0, 2.0]), *[np.zeros(2)] * 2
        )
        screen.show_word(found)
        await pilot.pause()
        lines = screen_lines(app)
        said = lines[1].strip()
        assert said.startswith("2 fire more on 'apology'") and said.endswith("'apologetic'…")
        header = lines[2].split()
        assert header[1] == "lift↓" and header[-1] == "note"  # the note's header whole
        row = next(line for line in lines[3:] if line.split()[0] == "1")
        assert row.rstrip().endswith("refusal: I can't…"), row  # after a whole word
        assert all(len(line) <= 80 for line in lines), row


async def test_help_defines_the_figures_and_keys_say_what_they_did(features_workspace) -> None:  # type: ignore[no-untyped-def]
    from safer_tui.screens.help import HelpScreen

    app = SaferApp(features_workspace(12), author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "sort |salience| ↓" in status(app)  # what the list is ranked by
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        glossary = dict(app.screen.rows)
        assert glossary["salience"].startswith("(A_c − A_r) / (A_c + A_r + 2m)")
        assert "|salience|" in glossary["salience"]
        assert {"density", "max", "lift"} <= set(glossary)
        await pilot.press("escape")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"says no", "enter")
        await pilot.pause()
        assert status(app).startswith(f"Note saved on feature {first_feature(app)}.")
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert status(app).startswith("Nothing to cancel: no retrain is running")
