"""Reading what the explorer shows, for pilot tests."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp
from safer_tui.widgets.feature_table import FeatureTable


def table(app: SaferApp) -> FeatureTable:
    return app.screen.query_one(FeatureTable)


def shown(app: SaferApp) -> list[int]:
    """The features listed, top to bottom."""
    return table(app).view.shown_features()


def cell(app: SaferApp, feature: int, column: str) -> str:
    """A listed feature's cell as the table prints it."""
    view = table(app).view
    position = view.position_of(feature)
    assert position is not None, f"feature {feature} is not listed"
    return view.cells(position)[column]


def status(app: SaferApp) -> str:
    return str(app.screen.query_one("#features-status").render())


def first_feature(app: SaferApp) -> int:
    return shown(app)[0]


def sae_id(root: Path) -> str:
    return Workspace.open(root).sae_ids()[-1]


async def settle(app: SaferApp, pilot: Pilot[None]) -> None:
    """Wait for the thread workers (examples, scores, word search) and the redraw after."""
    await app.workers.wait_for_complete()
    await pilot.pause()


async def ask(pilot: Pilot[None], key: str, *typed: str) -> None:
    """Open a one-line dialog with `key`, wait until it has the focus, type and submit.

    Typed too early, the letters would reach the list as tag and sort keys."""
    from textual.widgets import Input

    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.focused, Input), f"{key!r} opened no input"
    await pilot.press("ctrl+a", "ctrl+k", *typed, "enter")
    await pilot.pause()
