"""A feature's examples as pre-wrapped lines: a label column (a line or two: what the example
is, the pair it comes from), then the shaded text wrapped under itself. The example at the top
of the view is the current one (its label is highlighted); the view scrolls on past the end
so that every example can be brought to the top.

Feature pages change on every `[` / `]`. A rich Table in a Static is measured and rendered
again by Textual's layout on each change (tens of ms); here each page is wrapped once at the
widget's width into strips, and only the lines on screen are drawn.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Chunk = tuple[str, Style]
Row = tuple[list[Chunk], list[Chunk]]
"""An example: its label lines (the first always shown), and its text's chunks."""
_SPACES = re.compile(r"(\s+)")
CURRENT = Style(reverse=True)


class ExampleLines(ScrollView, can_focus=True):
    """Rows of (label lines, text chunks); `show` replaces them and scrolls to the top."""

    DEFAULT_CSS = """
    ExampleLines {
        background: $surface;
        overflow-x: hidden;
        overflow-y: scroll;
    }
    """

    def __init__(self, label_width: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label_width = label_width
        self.rows: list[Row] = []
        self.lines: list[list[Segment]] = []
        self.starts: list[int] = []
        """The first line of each row."""
        self.message = ""
        self.waiting = False
        """New rows are on their way: scrolls asked for meanwhile apply to them."""
        self.scrolled = 0
        """The lines scrolled while waiting."""

    @property
    def current(self) -> int:
        """The row at the top of the view (-1 when there are none)."""
        if not self.starts:
            return -1
        return max(0, bisect_right(self.starts, int(self.scroll_offset.y)) - 1)

    def wait(self) -> None:
        """New rows are being read: keys that scroll from now on (typed before the rows
        came) scroll them once they are shown, not the rows they replace."""
        self.waiting, self.scrolled = True, 0

    def show(self, rows: list[Row], message: str = "") -> None:
        """New rows, or, when there are none, a dim `message` in their place."""
        self.rows, self.message = rows, message
        self.wrap()
        self.scroll_to(0, max(0, self.scrolled), animate=False, immediate=True)
        self.waiting, self.scrolled = False, 0

    def scroll_lines(self, lines: int) -> None:
        if self.waiting:
            self.scrolled += lines
        else:
            self.scroll_relative(y=lines, animate=False)

    def action_scroll_down(self) -> None:
        self.scroll_lines(1)

    def action_scroll_up(self) -> None:
        self.scroll_lines(-1)

    def on_resize(self) -> None:
        self.wrap()

    def wrap(self) -> None:
        width = self.scrollable_content_region.width
        text_width = max(8, width - self.label_width - 1)
        self.lines, self.starts = [], []
        if self.rows:
            for labels, chunks in self.rows:
                self.starts.append(len(self.lines))
                self.lines += self._row_lines(labels, chunks, text_width)
        else:
            words = [(f"{word} ", Style(dim=True)) for word in self.message.split(" ")]
            self.lines = wrap_chunks(words, max(8, width))
        # room to bring the last example to the top
        height = self.scrollable_content_region.height
        end = self.starts[-1] + height if self.starts and len(self.lines) > height else 0
        size = Size(width, max(len(self.lines), end))
        if size != self.virtual_size:
            # Setting `virtual_size` lays out the whole screen (a frame of its own, ~10 ms per
            # page). The scrollbar is always shown, so nothing around this widget moves:
            # updating the scrollbar is enough.
            self.set_reactive(ExampleLines.virtual_size, size)
            self._scroll_update(size)
        self.refresh()

    def _row_lines(
        self, labels: list[Chunk], chunks: list[Chunk], width: int
    ) -> list[list[Segment]]:
        labels = labels[:1] + [label for label in labels[1:] if label[0].strip()]
        text_lines = wrap_chunks(chunks, width)
        text_lines += [[] for _ in range(len(labels) - len(text_lines))]
        pad = Segment(" " * (self.label_width + 1))
        heads = [
            Segment(text.ljust(self.label_width)[: self.label_width] + " ", style)
            for text, style in labels
        ]
        return [[heads[i] if i < len(heads) else pad, *line] for i, line in enumerate(text_lines)]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = int(self.scroll_offset.y) + y
        base = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(width, base)
        segments = [Segment(text, base + style) for text, style, _ in self.lines[index]]
        if self.starts and index == self.starts[self.current]:
            # the current example's label, without the space that ends the column
            label = segments[0]
            segments[0:1] = [
                Segment(label.text[: self.label_width], (label.style or base) + CURRENT),
                Segment(label.text[self.label_width :], base),
            ]
        return Strip(segments).crop_extend(0, width, base)


def _words(chunks: Iterable[Chunk]) -> list[tuple[list[Chunk], list[Chunk]]]:
    """The chunks as words: (the whitespace before it, the word's styled parts). A word is
    a run of non-space characters, and may span several chunks ("can", "'", "t")."""
    words: list[tuple[list[Chunk], list[Chunk]]] = []
    space: list[Chunk] = []
    word: list[Chunk] = []
    for text, style in chunks:
        for part in _SPACES.split(text):
            if not part:
                continue
            if part.isspace():
                if word:
                    words.append((space, word))
                    space, word = [], []
                space.append((part, style))
            else:
                word.append((part, style))
    if word:
        words.append((space, word))
    return words


def _cells(parts: list[Chunk]) -> int:
    return sum(cell_len(text) for text, _ in parts)


def wrap_chunks(chunks: Iterable[Chunk], width: int) -> list[list[Segment]]:
    """Greedy word wrapping: lines break at spaces, only a word wider than a line is split,
    and no line starts with a space (every line's text starts in the same column)."""
    lines: list[list[Segment]] = [[]]
    used = 0
    for space, word in _words(chunks):
        size = _cells(word)
        if used and used + _cells(space) + size > width:
            lines.append([])
            used = 0
        if used:
            lines[-1] += [Segment(text, style) for text, style in space]
            used += _cells(space)
        for text, style in word:
            while used + cell_len(text) > width:  # only a word wider than a line gets here
                cut = _fit(text, width - used)
                if cut:
                    lines[-1].append(Segment(text[:cut], style))
                lines.append([])
                used = 0
                text = text[cut:]
            if text:
                lines[-1].append(Segment(text, style))
                used += cell_len(text)
    return lines


def _fit(text: str, cells: int) -> int:
    """How many of text's characters fit in `cells` terminal cells."""
    used = 0
    for i, char in enumerate(text):
        used += cell_len(char)
        if used > cells:
            return i
    return len(text)
