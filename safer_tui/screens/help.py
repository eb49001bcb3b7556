"""Keys of the current screen, opened with F1 or ?; j / k (arrows, PgUp / PgDn) scroll it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        # keys in 7 columns and descriptions in 46: the box fits 60 columns
        lines = "\n".join(f"[b]{key:>7}[/b]  {what}" for key, what in self.keys)
        with VerticalScroll(id="help"):
            yield Static(
                f"[b]{self.title_text}[/b]\n\n{lines}\n\n[dim]j / k scroll · Esc closes.[/dim]"
            )

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=lines, animate=False)
