"""Snapshots of the explorer's screens at 80×24, 60×20 and 160×48 (the feature page at
120×40 too), on a fixed feature table and a synthetic workspace (the data's own text, in its
own case). Every footer must be whole: its keys fit, with help and quit last."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from safer_tui.app import SaferApp

SIZES = [(80, 24), (60, 20), (160, 48)]
NAMES = [f"{w}x{h}" for w, h in SIZES]


@pytest.fixture
def fixed_workspace(features_workspace: Callable[[int], Path]) -> Path:
    return features_workspace(12)


@pytest.mark.parametrize("size", SIZES, ids=NAMES)
def test_features_screen(snap_compare, fixed_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(fixed_workspace, author="alice"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=NAMES)
def test_help_screen(snap_compare, fixed_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(fixed_workspace), press=["f1"], terminal_size=size)


def test_message_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    # a fixed path: the message names it, and the snapshot must not change between runs
    assert snap_compare(SaferApp(Path("/nonexistent/safer-workspace")), terminal_size=(80, 24))


@pytest.fixture
def judged_workspace(synthetic_workspace: Path) -> Path:
    """The synthetic workspace with the judge's answer on its most salient feature, which a
    person tagged irrelevant: the feature page shows both."""
    import polars as pl

    from safer_engine.labels import LabelStore
    from safer_engine.workspace import Workspace
    from tests.safer_tui.conftest import add_judgements

    sae = Workspace.open(synthetic_workspace).sae_ids()[-1]
    table = pl.read_parquet(synthetic_workspace / "sae" / sae / "salience.parquet")
    top = int(table.sort("abs_salience", descending=True, maintain_order=True)["feature"][0])
    with LabelStore.open(synthetic_workspace / "labels.sqlite", author="alice") as labels:
        add_judgements(labels, {top: 5}, sae)
        labels.tag(sae, top, "irrelevant")
    return synthetic_workspace


PAGE_SIZES = [*SIZES, (120, 40)]  # the histogram's axes at a width between


@pytest.mark.parametrize("size", PAGE_SIZES, ids=[f"{w}x{h}" for w, h in PAGE_SIZES])
def test_feature_screen(snap_compare, judged_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def open_and_read(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = SaferApp(judged_workspace, author="alice")
    assert snap_compare(app, run_before=open_and_read, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=NAMES)
def test_pairs_screen(snap_compare, synthetic_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def tag_and_score(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("t", "u", "p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("j")  # the second pair: the model read neither response to its end
        await pilot.pause()

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=tag_and_score, terminal_size=size)


@pytest.mark.parametrize("size", SIZES[:2], ids=NAMES[:2])
def test_pairs_search(snap_compare, synthetic_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """A search's matches marked in the list's text, the prompt and both responses."""
    from tests.safer_tui.helpers import ask

    async def search(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("t", "u", "p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await ask(pilot, "slash", *"Sorry")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=search, terminal_size=size)


def test_word_search_on_a_feature_page(snap_compare, synthetic_workspace: Path) -> None:  # type: ignore[no-untyped-def]
    """The tokens of the word searched for marked in the examples of a feature it found."""
    from tests.safer_tui.helpers import ask

    async def search_and_open(pilot) -> None:  # type: ignore[no-untyped-def]
        await ask(pilot, "w", *"sorry")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=search_and_open, terminal_size=(80, 24))


@pytest.mark.parametrize("size", SIZES[:2], ids=NAMES[:2])
def test_judge_dialog(
    snap_compare,  # type: ignore[no-untyped-def]
    fixed_workspace: Path,
    size: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("SAFER_JUDGE_MODEL", "Qwen/Qwen2.5-7B-Instruct")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = SaferApp(fixed_workspace, author="alice")
    assert snap_compare(app, press=["space", "space", "J"], terminal_size=size)
