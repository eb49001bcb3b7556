"""A feature's histogram drawn with its axes: counts on the left, activations below."""

from __future__ import annotations

from safer_engine.service.explorer import Histogram
from safer_tui.widgets.histogram import column_counts, histogram_lines, value_axis

EDGES = [float(i) for i in range(9)]  # 8 bins from 0 to 8, shared by every feature


def test_bars_from_zero_to_the_last_bin_used_with_both_axes() -> None:
    histogram = Histogram([0, 2, 12, 1, 0, 0, 0, 0], EDGES)  # used up to 4.0
    lines = [line.plain for line in histogram_lines(histogram, width=39, height=2)]
    assert all(len(line) == 39 for line in lines)
    top, bottom, axis = lines
    assert top.startswith("12▏") and bottom.startswith(" 0▏")
    bars = [line[3:] for line in (top, bottom)]
    # four bins of nine cells each (36 cells), in sixteenths of the two lines: none, 2 of
    # 12 tokens (3), 12 (16), 1 (2: rounded up, so that one token still shows)
    assert bars[1] == " " * 9 + "▃" * 9 + "█" * 9 + "▂" * 9
    assert bars[0] == " " * 18 + "█" * 9 + " " * 9
    assert axis[3:].startswith("0") and axis.endswith("4.0") and "2.0" in axis
    assert "activation" in axis


def test_more_bins_than_cells_are_summed() -> None:
    assert column_counts([1, 2, 3, 4, 5, 6], 3) == [3, 7, 11]
    assert column_counts([1, 2], 4) == [1, 1, 2, 2]


def test_the_axis_keeps_its_ends_on_a_narrow_line() -> None:
    assert value_axis(12.5, 8) == "0   12.5"
    axis = value_axis(250.0, 30)
    assert axis.startswith("0") and axis.endswith("250") and "125" in axis
