"""A full-screen message for a workspace that cannot be explored yet."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Static


class MessageScreen(Screen[None]):
    """What is wrong and what to do next, instead of a crash."""

    BINDINGS = [("q", "app.quit", "Quit")]

    def __init__(self, message: str, hint: str) -> None:
        super().__init__()
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            # Text, not markup: paths and data may contain brackets.
            yield Static(Text.assemble((self.message, "bold"), "\n\n", self.hint), id="message")
        yield Footer()
