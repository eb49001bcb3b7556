"""Reading what the explorer shows, for pilot tests."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp


def table(app: SaferApp) -> DataTable:
    return app.screen.query_one(DataTable)


def status(app: SaferApp) -> str:
    return str(app.screen.query_one("#features-status").render())


def first_feature(app: SaferApp) -> int:
    return int(str(table(app).coordinate_to_cell_key((0, 0))[0].value))


def sae_id(root: Path) -> str:
    return str(Workspace.open(root).stage("encode")["id"])  # type: ignore[index]
