"""The pair's prompt above its two responses: a few lines, or all of it."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from safer_engine.service.text import Span
from safer_tui.shading import prompt_text

PROMPT_LINES = 3  # of the prompt shown until `o` shows all of it


class PromptView(Static):
    """The pair's prompt: its first lines with an ellipsis where it is cut, or all of it."""

    spans: list[Span] = []
    expanded = False
    search = ""
    """A search whose matches are marked."""

    def show(self, spans: list[Span], expanded: bool, search: str = "") -> None:
        self.spans, self.expanded, self.search = spans, expanded, search
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        text = prompt_text(self.spans, self.expanded, self.search)
        width = self.size.width
        if self.expanded or width <= 1:
            return text
        lines = text.wrap(self.app.console, width)
        if len(lines) <= PROMPT_LINES:
            return text
        shown = lines[:PROMPT_LINES]
        shown[-1].truncate(width - 1)
        shown[-1].rstrip()
        shown[-1].append("…", style=Style(bold=True))
        return Text("\n").join(shown)
