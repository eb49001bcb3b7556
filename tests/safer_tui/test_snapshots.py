"""Snapshots of the explorer's screens at 80×24 and 160×48, on a fixed feature table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from safer_tui.app import SaferApp


@pytest.fixture
def fixed_workspace(features_workspace: Callable[[int], Path]) -> Path:
    return features_workspace(12)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_features_screen(snap_compare, fixed_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(fixed_workspace, author="alice"), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_help_screen(snap_compare, fixed_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(SaferApp(fixed_workspace), press=["f1"], terminal_size=size)


def test_message_screen(snap_compare) -> None:  # type: ignore[no-untyped-def]
    # a fixed path: the message names it, and the snapshot must not change between runs
    assert snap_compare(SaferApp(Path("/nonexistent/safer-workspace")), terminal_size=(80, 24))


@pytest.fixture
def synthetic_workspace(tmp_path: Path) -> Path:
    """A tiny encoded workspace, byte-identical on every build (no training involved)."""
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    return build_synthetic_workspace(
        tmp_path / "ws", n_pairs=20, tokens_per_doc=12, n_latents=64, k=4
    )


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_feature_screen(snap_compare, synthetic_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def open_and_read(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=open_and_read, terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_pairs_screen(snap_compare, synthetic_workspace: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def tag_and_score(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("t", "u", "p")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("j")  # the second pair: the model read neither response to its end
        pilot.app.clear_notifications()  # the tag toasts would cover the sides
        await pilot.pause()

    app = SaferApp(synthetic_workspace, author="alice")
    assert snap_compare(app, run_before=tag_and_score, terminal_size=size)
