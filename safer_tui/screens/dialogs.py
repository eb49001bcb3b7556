"""Small dialogs over any screen: a yes/no question and one line of input."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """A question answered with y, or n (or Esc); Enter is no answer, so a key pressed twice
    never says yes."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm-box {
        width: 64; height: auto; padding: 1 2; border: round $warning; background: $surface;
    }
    """

    BINDINGS = [
        Binding("y", "dismiss(True)", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        text = Text(self.question, style="bold")
        if self.detail:
            text.append(f"\n\n{self.detail}")
        text.append("\n\ny yes · n no", style="dim")
        with Vertical(id="confirm-box"):
            yield Static(text)


class AskScreen(ModalScreen[str | None]):
    """One line of input: Enter submits it (stripped), Esc cancels."""

    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    #ask-box {
        width: 72; height: auto; padding: 1 2; border: round $accent; background: $surface;
    }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, prompt: str, value: str, input_id: str = "ask-input") -> None:
        super().__init__()
        self.prompt, self.value, self.input_id = prompt, value, input_id

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box"):
            yield Static(Text(self.prompt))
            yield Input(value=self.value, id=self.input_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())
