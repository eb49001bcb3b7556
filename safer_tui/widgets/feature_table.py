"""A virtual table of features: draws only the lines on screen.

Textual's DataTable builds a row object per feature, which costs seconds at 16k features and
again on every re-sort. This widget renders each visible line from a `FeatureView` on demand,
so start-up and re-sorting cost the same at 100 features or 100,000.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from safer_tui.feature_columns import FAILED, Column, sign_of
from safer_tui.feature_view import FeatureView
from safer_tui.shading import cut_at_word

GUTTER = 2  # "● " on marked rows
NOTE_WIDTH = 6  # the least the note gets: at 60 columns the tag must still fit
LEFT = ("tag", "note")  # text columns; numbers are right-aligned
NOTHING_SHOWN = "  No feature matches: f/F change the filter, / then Enter clears the search."
TAG_CLASSES = {
    "safe": "feature-table--safe",
    "unsafe": "feature-table--unsafe",
    "unsure": "feature-table--unsure",
    "irrelevant": "feature-table--irrelevant",
}


def fit(text: str, size: int, left: bool) -> str:
    """`text` padded or cut (with an ellipsis; text after a whole word) to exactly `size`
    terminal cells."""
    if cell_len(text) > size:
        return set_cell_size(cut_at_word(text, size) if left else text[: size - 1] + "…", size)
    return set_cell_size(text, size) if left else " " * (size - cell_len(text)) + text


class FeatureTable(ScrollView, can_focus=True):
    """One header line, then one line per shown feature, with a row cursor."""

    DEFAULT_CSS = """
    FeatureTable {
        background: $surface;
        overflow-x: hidden;
        & > .feature-table--header { text-style: bold; background: $panel; }
        & > .feature-table--even { background: $surface-lighten-1 50%; }
        & > .feature-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .feature-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .feature-table--positive { color: $success; }
        & > .feature-table--negative { color: $error; }
        & > .feature-table--safe { color: $success; text-style: bold; }
        & > .feature-table--unsafe { color: $error; text-style: bold; }
        & > .feature-table--unsure { color: $warning; }
        & > .feature-table--irrelevant { color: $text-muted; }
        & > .feature-table--marked { color: $accent; text-style: bold; }
        & > .feature-table--sorted { color: $accent; text-style: bold underline; }
        & > .feature-table--judged { color: $warning; text-style: bold; }
        & > .feature-table--judge-failed { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES = {
        "feature-table--header",
        "feature-table--even",
        "feature-table--cursor",
        "feature-table--positive",
        "feature-table--negative",
        "feature-table--marked",
        "feature-table--sorted",
        "feature-table--judged",
        "feature-table--judge-failed",
        *TAG_CLASSES.values(),
    }
    BINDINGS = [
        Binding("down,j", "move(1)", "Down", show=False, tooltip="down a row"),
        Binding("up,k", "move(-1)", "Up", show=False, tooltip="up a row"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, tooltip="a page down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, tooltip="a page up"),
        Binding("home,g", "jump(0)", "First", show=False, tooltip="first row"),
        Binding("end,G", "jump(-1)", "Last", show=False, tooltip="last row"),
        Binding(
            "enter",
            "select",
            "Open",
            show=False,
            tooltip="open the feature: shaded examples, histogram (a click too)",
        ),
    ]

    class Selected(Message):
        """Enter (or a click on the row under the cursor) on a feature."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    class HeaderClicked(Message):
        def __init__(self, column: Column) -> None:
            super().__init__()
            self.column = column

    def __init__(self, view: FeatureView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.cursor = 0

    # -- geometry ------------------------------------------------------------------------

    def reset(self) -> None:
        """After the view's rows changed: keep the cursor in range and redraw."""
        self.virtual_size = Size(self.size.width, len(self.view) + 1)
        self.cursor = max(0, min(self.cursor, len(self.view) - 1))
        self.scroll_to_cursor()
        self.refresh()

    def on_resize(self) -> None:
        self.reset()

    def columns(self) -> list[Column]:
        return self.view.columns(self.size.width)

    def widths(self) -> list[int]:
        """Each shown column's width; the note takes what is left (at least `NOTE_WIDTH`)."""
        widths = [c.width for c in self.columns()]
        fixed = GUTTER + sum(w + 1 for w in widths) - 1
        return [w or max(NOTE_WIDTH, self.scrollable_content_region.width - fixed) for w in widths]

    def scroll_to_cursor(self) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)  # the header takes a line
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, immediate=True)

    # -- drawing -------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._header_line(width)
        position = int(self.scroll_offset.y) + y - 1
        if not len(self.view) and y == 1:
            return Strip([Segment(NOTHING_SHOWN, self.rich_style + Style(dim=True))]).crop_extend(
                0, width, self.rich_style
            )
        if position >= len(self.view):
            return Strip.blank(width, self.rich_style)
        return self._row_line(position, width)

    def _header_line(self, width: int) -> Strip:
        base = self.get_component_rich_style("feature-table--header")
        sorted_style = self.get_component_rich_style("feature-table--sorted", partial=True)
        arrow = "↓" if self.view.descending else "↑"
        cells, styles = [], []
        for column, size in zip(self.columns(), self.widths(), strict=True):
            is_sorted = column is self.view.sort_column
            name = f"{column.name}{arrow}" if is_sorted and len(column.name) < size else column.name
            cells.append(name)
            styles.append(sorted_style if is_sorted else Style())
        return self._line(cells, styles, base, width)

    def _row_line(self, position: int, width: int) -> Strip:
        cells = self.view.cells(position)
        if position == self.cursor:
            base = self.get_component_rich_style("feature-table--cursor")
        elif position % 2:
            base = self.get_component_rich_style("feature-table--even")
        else:
            base = self.rich_style
        columns = self.columns()
        styles = [self._cell_style(c.name, cells[c.name]) for c in columns]
        if position == self.cursor:
            styles = [Style()] * len(columns)  # the cursor's colours must stay readable
        marked = self.view.feature_at(position) in self.view.marked
        gutter = (
            "● " if marked else "",
            self.get_component_rich_style("feature-table--marked", partial=True),
        )
        return self._line([cells[c.name] for c in columns], styles, base, width, gutter)

    def _cell_style(self, column: str, text: str) -> Style:
        if column in ("salience", "effect"):
            sign = sign_of(text)
            if sign == "zero":
                return Style()  # neither lean: +0.000 is not green
            return self.get_component_rich_style(f"feature-table--{sign}", partial=True)
        if column == "judge" and text:
            # 4 and 5 (the judge's "about safety") stand out; a failure is muted
            name = "judge-failed" if text == FAILED else "judged" if text in "45" else ""
            if name:
                return self.get_component_rich_style(f"feature-table--{name}", partial=True)
        if column == "tag" and text in TAG_CLASSES:
            return self.get_component_rich_style(TAG_CLASSES[text], partial=True)
        return Style()

    def _line(
        self,
        cells: list[str],
        styles: list[Style],
        base: Style,
        width: int,
        gutter: tuple[str, Style] = ("", Style()),
    ) -> Strip:
        segments = [Segment(gutter[0].ljust(GUTTER), base + gutter[1])]
        sizes = self.widths()
        for column, size, text, style in zip(self.columns(), sizes, cells, styles, strict=True):
            segments.append(Segment(" " if len(segments) > 1 else "", base))
            segments.append(Segment(fit(text, size, left=column.source in LEFT), base + style))
        # Cells are exactly their widths, so the length is known without measuring segments.
        strip = Strip(segments, GUTTER + sum(sizes) + len(sizes) - 1)
        return strip if strip.cell_length == width else strip.crop_extend(0, width, base)

    # -- keys and mouse ------------------------------------------------------------------

    def move_to(self, position: int) -> None:
        if not len(self.view):
            return
        old = self.cursor
        self.cursor = max(0, min(position, len(self.view) - 1))
        self.scroll_to_cursor()
        for line in {old, self.cursor}:
            self.refresh_line(line + 1)  # the header is line 0

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 2))

    def action_jump(self, position: int) -> None:
        self.move_to(position if position >= 0 else len(self.view) - 1)

    def action_select(self) -> None:
        if len(self.view):
            self.post_message(self.Selected(self.cursor))

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            column = self._column_at(event.x)
            if column is not None:
                self.post_message(self.HeaderClicked(column))
            return
        position = int(self.scroll_offset.y) + event.y - 1
        if position < len(self.view):
            if position == self.cursor or event.chain > 1:
                self.post_message(self.Selected(position))
            self.move_to(position)

    def _column_at(self, x: int) -> Column | None:
        edge = GUTTER
        for column, size in zip(self.columns(), self.widths(), strict=True):
            edge += size + 1
            if x < edge:
                return column
        return None
