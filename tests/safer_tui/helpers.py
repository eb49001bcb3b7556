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
    """Open a one-line dialog with `key`, check that it has the focus, type and submit.
    (Letters typed before the dialog is up reach it too: tests/safer_tui/test_typeahead.py.)"""
    from textual.widgets import Input

    await pilot.press(key)
    await pilot.pause()
    assert isinstance(pilot.app.focused, Input), f"{key!r} opened no input"
    await pilot.press("ctrl+a", "ctrl+k", *typed, "enter")
    await pilot.pause()


def send_at_once(app: SaferApp, *keys: str) -> None:
    """Send keys as a quick typist or an SSH connection delivers them: all queued together,
    none waiting for the one before (`pilot.press` waits for the app after each key)."""
    from textual import events

    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def typed_at_once(app: SaferApp, pilot: Pilot[None], *keys: str) -> None:
    """`send_at_once`, then wait for everything the keys set off."""
    send_at_once(app, *keys)
    for _ in range(len(keys) + 2):  # a bound: each key may open a screen or start a worker
        await app.workers.wait_for_complete()
        await pilot.pause()


def screen_lines(app: SaferApp) -> list[str]:
    """The terminal's text, line by line, as a person sees it (notifications included, when
    the test runs with them)."""
    import html
    import re

    svg = app.export_screenshot()
    pattern = re.compile(
        r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
        r'clip-path="url\(#[^)]*-line-(\d+)\)">(.*?)</text>'
    )
    rows: dict[int, list[tuple[float, str]]] = {}
    for x, line, text in pattern.findall(svg):
        rows.setdefault(int(line), []).append((float(x), html.unescape(text)))
    cell = 12.2  # the screenshot's width of one cell
    out = []
    for line in range(app.size.height):
        drawn = ""
        for x, text in sorted(rows.get(line, [])):
            drawn = drawn.ljust(round(x / cell)) + text.replace("\xa0", " ")
        out.append(drawn.rstrip())
    return out
