"""The SAFER explorer: a Textual app over one workspace.

Importing this module loads textual, polars, h5py and sqlite only; never torch,
transformers or sae_lens (checked by tests/test_import_boundaries.py).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App

from safer_engine.errors import SaferError
from safer_tui.screens.features import FeaturesScreen
from safer_tui.screens.message import MessageScreen
from safer_tui.workspace_data import WorkspaceData


class SaferApp(App[None]):
    TITLE = "SAFER explorer"
    CSS_PATH = "app.tcss"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, workspace: Path, author: str | None = None) -> None:
        super().__init__()
        self.workspace_path = workspace
        self.author = author
        self.data: WorkspaceData | None = None

    def on_mount(self) -> None:
        try:
            self.data = WorkspaceData.open(self.workspace_path, self.author)
        except SaferError as exc:
            self.push_screen(MessageScreen(exc.message, exc.hint))
            return
        self.push_screen(FeaturesScreen(self.data))

    def on_unmount(self) -> None:
        if self.data is not None:
            self.data.close()
