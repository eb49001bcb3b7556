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
