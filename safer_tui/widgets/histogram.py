"""A feature's activation histogram with its axes: bars of how many stored tokens have each
activation, the tallest bar's count on the left, and activation values under the bars.

The bars run from 0 to the end of the feature's highest non-empty bin (the bins are shared by
every feature, up to the largest activation of any, so most features would use only their
left part); a bin with no token is blank, one with a few tokens still shows a sliver.
"""

from __future__ import annotations

import math

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from safer_engine.service.explorer import Histogram
from safer_tui.shading import SHADE

BLOCKS = " ▁▂▃▄▅▆▇█"
BAR = Style(color=f"rgb({SHADE[0]},{SHADE[1]},{SHADE[2]})")
AXIS = Style(dim=True)
RULE = "▏"  # between the counts and the bars
UNIT = "activation"


class ActivationHistogram(Widget):
    """The bars fill the widget's height but its last line, which holds the values."""

    DEFAULT_CSS = """
    ActivationHistogram { height: 3; }
    """

    histogram: Histogram | None = None

    def show(self, histogram: Histogram | None) -> None:
        """Draw `histogram`, or nothing (None: none is read yet)."""
        self.histogram = histogram
        self.refresh()

    def render(self) -> RenderableType:
        histogram = self.histogram
        if histogram is None or not any(histogram.counts):
            return Text()
        lines = histogram_lines(histogram, self.size.width, max(1, self.size.height - 1))
        return Text("\n").join(lines)


def histogram_lines(histogram: Histogram, width: int, height: int) -> list[Text]:
    """`height` lines of bars and one of values, `width` cells each (at least the counts'
    column and a few bars)."""
    counts = histogram.counts
    shown = max(i for i, count in enumerate(counts) if count) + 1
    top = histogram.edges[shown]
    peak = max(counts)
    gutter = len(f"{peak:,}")
    bars = max(4, width - gutter - len(RULE))
    columns = column_counts(counts[:shown], bars)
    lines = []
    for row in range(height):
        label = f"{peak:,}" if row == 0 else "0" if row == height - 1 else ""
        line = Text(label.rjust(gutter) + RULE, style=AXIS)
        floor = (height - 1 - row) * 8  # eighths of a line below this row
        cells = "".join(
            BLOCKS[min(8, max(0, eighths(count, peak, height) - floor))] for count in columns
        )
        lines.append(line.append(cells, style=BAR))
    lines.append(Text(" " * (gutter + len(RULE)) + value_axis(top, bars), style=AXIS))
    return lines


def column_counts(counts: list[int], columns: int) -> list[int]:
    """The counts spread over `columns` cells: a bin over several cells when there are fewer
    bins than cells, several bins summed in one cell when there are more."""
    n = len(counts)
    return [
        sum(counts[c * n // columns : max(c * n // columns + 1, (c + 1) * n // columns)])
        for c in range(columns)
    ]


def eighths(count: int, peak: int, height: int) -> int:
    """A bar's height in eighths of a line: any count above 0 gets at least one."""
    if count <= 0:
        return 0
    return max(1, math.ceil(count / peak * height * 8))


def value_axis(top: float, width: int) -> str:
    """Activation values under `width` cells of bars from 0 to `top`: 0 on the left, `top`
    on the right and, where there is room, the middle between them and the word
    "activation" between 0 and the middle."""
    axis = list("0".ljust(width))
    right = number(top)
    axis[width - len(right) :] = right
    middle = number(top / 2)
    start = width // 2 - len(middle) // 2
    if start > 2 and start + len(middle) < width - len(right) - 2:
        axis[start : start + len(middle)] = middle
        word = width // 4 - len(UNIT) // 2
        if word > 2 and word + len(UNIT) < start - 2:
            axis[word : word + len(UNIT)] = UNIT
    return "".join(axis)


def number(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"
