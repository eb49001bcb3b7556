"""The SAFER explorer: a Textual app over one workspace.

Importing this module loads textual, polars, h5py and sqlite only; never torch,
transformers or sae_lens (checked by tests/test_import_boundaries.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.screen import Screen

from safer_engine.errors import SaferError
from safer_engine.service.explorer import Explorer
from safer_tui.errors import ERROR_SECONDS
from safer_tui.feature_view import FILTERS
from safer_tui.screens.feature_list import FeaturesScreen
from safer_tui.screens.message import MessageScreen


class SaferApp(App[None]):
    TITLE = "SAFER explorer"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, workspace: Path, author: str | None = None) -> None:
        super().__init__()
        self.workspace_path = workspace
        self.author = author
        self.data: Explorer | None = None

    def on_mount(self) -> None:
        try:
            self.data = Explorer.open(self.workspace_path, self.author)
        except SaferError as exc:
            self.push_screen(MessageScreen(exc.message, exc.hint))
            return
        self.push_screen(FeaturesScreen(self.data))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Ctrl+P: Textual's own commands (themes, keys, quit), plus the Features screen's."""
        yield from super().get_system_commands(screen)
        if not isinstance(screen, FeaturesScreen):
            return
        yield SystemCommand(
            "Open pairs", "Pairs ranked by score from the current tags", screen.action_pairs
        )
        yield SystemCommand("Search features", "Feature ids and notes", screen.action_search)
        yield SystemCommand(
            "Judge features", "Ask an LLM judge about the marked or top N (J)", screen.action_judge
        )
        yield SystemCommand("Undo the last tag change", "z", screen.action_undo)
        yield SystemCommand(
            "Export tags to CSV", "labels-<sae>.csv in the workspace folder", screen.export_tags
        )
        for column in screen.table.columns():  # only what is on screen: a hidden sort confuses
            yield SystemCommand(
                f"Sort by {column.name}",
                "Re-order the feature table",
                partial(screen.set_sort, column.name),
            )
        for name in FILTERS:
            yield SystemCommand(
                f"Filter: {name}", "Show only these features", partial(screen.set_filter, name)
            )

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """The palette's Screenshot: an SVG in the workspace folder (or the current folder
        when the workspace cannot be written), and a message saying where or why not.
        Textual's own saves to ~/Downloads, which often does not exist on a server, and
        fails without a reason. In a browser (`--web`) the browser downloads it."""
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        folders = [Path(path)] if path else [self.workspace_path, Path.cwd()]
        problems = []
        for folder in folders:
            try:
                saved = self.save_screenshot(filename, str(folder), time_format)
            except OSError as exc:
                problems.append(f"{folder}: {exc.strerror or exc}")
                continue
            self.notify(f"Screenshot saved to {saved}", title="Screenshot", timeout=4)
            return saved
        self.notify(
            "Could not save the screenshot (" + "; ".join(problems) + ").",
            title="Screenshot",
            severity="error",
            timeout=ERROR_SECONDS,
            markup=False,
        )
        return None

    def on_unmount(self) -> None:
        if self.data is not None:
            self.data.close()
