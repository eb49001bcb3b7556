"""Keys of the current screen, opened with F1 or ?."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close")]

    def __init__(self, title: str, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"[b]{key:>10}[/b]  {what}" for key, what in self.keys)
        with VerticalScroll(id="help"):
            yield Static(f"[b]{self.title_text}[/b]\n\n{lines}\n\n[dim]Esc closes.[/dim]")
