"""A screen's status line: what it shows, with a short message at its head for a few
seconds (what a key did, without a notification over the table).

The line is one row: what it shows is a list of items, first the most important, and an
item that does not fit whole is left out rather than cut mid-word, so a later, shorter one
may still show."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.events import Resize
from textual.timer import Timer
from textual.widgets import Static

from safer_tui.shading import cut_at_word

SEPARATOR = " · "


def fit(items: Sequence[Text], width: int) -> Text:
    """The items joined by " · ", leaving out each one that would not fit whole in `width`
    columns (the first always shows, cut after a whole word when it is too long: it is what
    the line is for). A width of 0 (not laid out yet) fits everything."""
    line = Text()
    for item in items:
        if not item.plain:
            continue
        if not line.plain and width and item.cell_len > width:  # the first, too long
            short = cut_at_word(item.plain, width)
            return item[: len(short) - 1] + Text("…")  # the line's end, where it was cut
        piece = item if not line.plain else Text(SEPARATOR) + item
        if line.plain and width and line.cell_len + piece.cell_len > width:
            continue
        line.append_text(piece)
    return line


class StatusLine(Static):
    """`wrap`: the message takes lines of its own above the items (up to three lines in
    all: a path it names is whole) and the items wrap rather than being left out."""

    DEFAULT_CSS = """
    StatusLine.wrap { height: auto; max-height: 3; }
    """

    def __init__(self, id: str | None = None, wrap: bool = False) -> None:
        super().__init__(id=id, classes="wrap" if wrap else "")
        self.wrap = wrap
        self.items: list[Text] = []
        self.message: Text | None = None
        self.timer: Timer | None = None

    def show(self, body: Text | Sequence[Text]) -> None:
        """What the line shows: one text, or items in order of importance."""
        self.items = [body] if isinstance(body, Text) else list(body)
        self.draw()

    def say(self, text: str | Text, seconds: float) -> None:
        self.message = Text(text) if isinstance(text, str) else text
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.set_timer(seconds, self.unsay)
        self.draw()

    def unsay(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        self.message = self.timer = None
        self.draw()

    def on_resize(self, event: Resize) -> None:
        self.draw()

    def draw(self) -> None:
        items = ([self.message] if self.message is not None else []) + self.items
        if self.wrap:  # the message on lines of its own, then the line as it was
            message = [self.message, Text("\n")] if self.message is not None else []
            self.update(Text.assemble(*message, fit(self.items, 0)))
        else:
            # One line of fixed height: no layout pass, so the table's frame is the only one.
            self.update(fit(items, self.content_size.width), layout=False)
