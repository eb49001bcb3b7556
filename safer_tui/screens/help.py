"""Keys of the current screen and what its columns mean, opened with F1 or ?; j / k (arrows,
PgUp / PgDn) scroll it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen #help-title { margin-bottom: 1; }
    HelpScreen #help-end { margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        """`rows`: from `help_keys.help_rows`, a key or word and what it does or means."""
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        # descriptions wrap beside their key, so the box fits 60 columns whatever they say
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for key, what in self.rows:
            table.add_row(Text(key), Text(what))
        with VerticalScroll(id="help"):
            yield Static(Text(self.title_text, style="bold"), id="help-title")
            yield Static(table)
            yield Static(Text("j / k scroll · Esc closes.", style="dim"), id="help-end")

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=lines, animate=False)
