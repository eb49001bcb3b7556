"""A screen's status line: what it shows, with a short message at its head for a few
seconds (what a key did, without a notification over the table)."""

from __future__ import annotations

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static


class StatusLine(Static):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.body = Text()
        self.message: Text | None = None
        self.timer: Timer | None = None

    def show(self, body: Text) -> None:
        self.body = body
        self.draw()

    def say(self, text: str | Text, seconds: float) -> None:
        self.message = Text(text) if isinstance(text, str) else text
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.set_timer(seconds, self.unsay)
        self.draw()

    def unsay(self) -> None:
        self.message = self.timer = None
        self.draw()

    def draw(self) -> None:
        line = Text()
        if self.message is not None:
            line.append(self.message).append(" · ")
        # One line of fixed height: no layout pass, so the table's frame is the only one.
        self.update(line.append(self.body), layout=False)
