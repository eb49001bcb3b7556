"""The explorer app driven by Textual's pilot: help, bad workspaces, the palette, --web."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from safer_tui.app import SaferApp
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.message import MessageScreen
from tests.safer_tui.helpers import sae_id, settle, status

pytestmark = pytest.mark.anyio


async def test_help_opens_and_closes(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, FeaturesScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_incomplete_workspace_says_which_step_to_run(
    fixture_data: Path, tmp_path: Path
) -> None:
    from safer_engine.config import DataConfig
    from safer_engine.data.load import load_preferences
    from safer_engine.data.stage import import_data
    from safer_engine.workspace import Workspace

    workspace = Workspace.open(tmp_path / "ws", create=True)
    import_data(workspace, load_preferences(DataConfig(str(fixture_data / "generic.csv"))))
    app = SaferApp(workspace.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen)
        assert "no SAE features yet" in app.screen.message
        # every step still to run, in order, from the reward model on
        assert app.screen.hint.startswith("Run `safer train-rm")
        assert app.screen.hint.index("safer extract") < app.screen.hint.index("safer train-sae")
    missing = SaferApp(tmp_path / "nowhere")
    async with missing.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(missing.screen, MessageScreen)
        assert "does not exist" in missing.screen.message


@pytest.mark.slow
def test_web_serves_the_explorer_on_localhost(synthetic_workspace: Path) -> None:
    """The page loads, and its websocket streams the app running on this workspace: the
    screen names the workspace's SAE, which only the explorer process could know."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "safer_tui", "--web", "--port", str(port), str(synthetic_workspace)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not page:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                    page = reply.read().decode("utf-8", "replace")
            except OSError:
                time.sleep(0.3)
        assert "/ws" in page  # the page drives the app through this websocket
        screen = asyncio.run(read_web_screen(port, f"SAE {sae_id(synthetic_workspace)}"))
        assert f"SAE {sae_id(synthetic_workspace)}" in screen
        assert "salience" in screen
    finally:
        server.terminate()
        server.wait(timeout=10)


async def read_web_screen(port: int, wanted: str, seconds: float = 40) -> str:
    """Terminal output of the served app, as text, until `wanted` shows or time is up."""
    import re

    import aiohttp

    text = ""
    url = f"ws://127.0.0.1:{port}/ws?width=100&height=30"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        deadline = asyncio.get_running_loop().time() + seconds
        while wanted not in text and asyncio.get_running_loop().time() < deadline:
            try:
                message = await socket.receive(timeout=2)
            except asyncio.TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.BINARY:
                raw = message.data.decode("utf-8", "replace")
                text += re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
            elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
    return text


async def test_palette_offers_the_apps_own_commands(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Open pairs", "Export tags to CSV", "Sort by density", "Filter: untagged"} <= set(
            titles
        )
        assert "Quit the application" in " ".join(
            c.help for c in app.get_system_commands(app.screen)
        ) or "Quit" in " ".join(titles)
        await pilot.press("t")
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Export tags to CSV"
        )
        command.callback()
        await pilot.pause()
        exported = synthetic_workspace / f"labels-{sae_id(synthetic_workspace)}.csv"
        assert exported.read_text().count("\n") == 2  # header + one tag
        next(
            c for c in app.get_system_commands(app.screen) if c.title == "Sort by density"
        ).callback()
        assert "sort density" in status(app)


async def test_a_store_of_a_newer_schema_gets_a_message_not_a_crash(
    synthetic_workspace: Path,
) -> None:
    import h5py

    with h5py.File(synthetic_workspace / "store.h5", "r+") as f:
        f.attrs["schema_version"] = 99
    app = SaferApp(synthetic_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        messages = " ".join(n.message for n in app._notifications)
        assert "store schema 99" in messages and "Upgrade safer-explorer" in messages
        widget = app.screen.query_one("#feature-examples")
        lines = [widget.render_line(y).text for y in range(widget.virtual_size.height)]
        shown = " ".join(" ".join(lines).split())  # wherever the lines wrap
        assert "store schema 99" in shown  # said where the examples would be
        await pilot.press("escape")
        assert isinstance(app.screen, FeaturesScreen)  # the list stays usable


async def test_brackets_in_a_path_are_shown_as_typed(tmp_path: Path) -> None:
    odd = tmp_path / "[red]odd[/red]"
    app = SaferApp(odd)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, MessageScreen)
        assert "[red]odd[/red]" in str(app.screen.query_one("#message").render())


async def test_help_scrolls_with_j_and_k(features_workspace) -> None:  # type: ignore[no-untyped-def]
    app = SaferApp(features_workspace(12))
    async with app.run_test(size=(60, 20)) as pilot:  # short: the keys do not all fit
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        box = app.screen.query_one("#help")
        assert box.max_scroll_y > 0
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert box.scroll_y == 3
        await pilot.press("k")
        await pilot.pause()
        assert box.scroll_y == 2


async def test_every_shown_key_of_every_screen_is_in_its_help_with_the_glossary(
    synthetic_workspace: Path,
) -> None:
    from safer_tui.screens.help_keys import key_name
    from tests.safer_tui.screens.test_pairs import scored

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # the list, a feature's page, the pairs, the Edits and Runs screens, a plan's pair
        for keys in ([], ["enter"], ["p"], ["escape", "escape", "e"], ["r"], ["escape", "enter"]):
            await pilot.press(*keys)
            await settle(app, pilot)
            if keys == ["p"]:
                await scored(app, pilot)
            screen = app.screen
            shown = [b for _, b, _, _ in screen.active_bindings.values() if b.show]
            await pilot.press("f1")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen), type(screen).__name__
            rows = app.screen.rows
            for binding in shown:
                what = binding.tooltip or binding.description
                assert any(
                    key_name(binding.key) in key.split(" / ") and text == what for key, text in rows
                ), (type(screen).__name__, binding.key)
            words = {key for key, _ in rows}
            assert {"salience", "density", "max", "lift", "judge", "score"} <= words
            await pilot.press("escape")
            await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_footers_fit_with_help_and_quit(
    synthetic_workspace: Path, size: tuple[int, int]
) -> None:
    from textual.widgets._footer import FooterKey

    from safer_tui.widgets.key_footer import KeyFooter
    from tests.safer_tui.screens.test_pairs import scored

    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for keys in ([], ["enter"], ["escape", "p"]):
            await pilot.press(*keys)
            await settle(app, pilot)
            if keys == ["escape", "p"]:
                await scored(app, pilot)
            footer = app.screen.query_one(KeyFooter)
            shown = list(footer.query(FooterKey))
            right = max(key.region.right for key in shown)
            assert right <= size[0], type(app.screen).__name__
            descriptions = {key.description for key in shown}
            assert {"Help", "Quit"} <= descriptions, type(app.screen).__name__


async def test_a_screenshot_is_saved_in_the_workspace_and_says_where(
    features_workspace,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = features_workspace(12)
    app = SaferApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        command.callback()
        await pilot.pause(0.3)  # the command waits 0.1 s for the palette to close
        saved = list(root.glob("*.svg"))
        assert len(saved) == 1 and "SAFER&#160;explorer" in saved[0].read_text()
        messages = [n.message for n in app._notifications]
        assert f"Screenshot saved to {saved[0]}" in messages
        # a workspace that cannot be written: the current folder instead
        real = app.save_screenshot

        def refuse_workspace(filename=None, path=None, time_format=None):  # type: ignore[no-untyped-def]
            if path == str(root):
                raise PermissionError(13, "Permission denied")
            return real(filename, path, time_format)

        monkeypatch.setattr(app, "save_screenshot", refuse_workspace)
        monkeypatch.chdir(tmp_path)
        assert app.deliver_screenshot() is not None
        assert len(list(tmp_path.glob("*.svg"))) == 1

        def refuse(filename=None, path=None, time_format=None):  # type: ignore[no-untyped-def]
            raise OSError(30, "Read-only file system")

        monkeypatch.setattr(app, "save_screenshot", refuse)  # nowhere to write: says why
        assert app.deliver_screenshot() is None
        await pilot.pause()
        failed = [n.message for n in app._notifications if "Could not save" in n.message]
        assert failed and f"{root}: Read-only file system" in failed[0]


async def test_the_palette_writes_the_audit_report_from_a_worker(synthetic_workspace: Path) -> None:
    app = SaferApp(synthetic_workspace, author="alice")
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Write audit report"
        )
        command.callback()
        await app.workers.wait_for_complete()
        await pilot.pause()
        written = synthetic_workspace / f"audit-{sae_id(synthetic_workspace)}.html"
        assert "Audit report written to" in status(app)
        html = written.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<section id="features">' in html
