"""An experiment's accuracy against the edit ratio, per method, drawn with text.

One block per slice (safety first): poisoning and denoising apart, a row per method (SAFER
against its random baseline) and a column per ratio. Each cell is a bar of eighth-blocks on
the slice's scale, the shortfall against the clean runs dotted in red up to the clean mark
`┊`, then the accuracy and its change against clean. At 80 columns three ratios per family fit
with bars of 9 cells; two slices take 16 lines. Where bars of 3 cells would not leave the
values room (three ratios at 60 columns), the chart shows the values alone.
"""

from __future__ import annotations

import math

from rich.text import Text

from safer_engine.service.runs import ExperimentView, SummaryRow

FAMILIES = (
    ("poisoning", (("safer-poison", "SAFER"), ("random-flip", "random"))),
    ("denoising", (("safer-denoise", "SAFER"), ("random-remove", "random"))),
)
COLOURS = {"SAFER": "magenta", "random": "cyan"}
EIGHTHS = " ▏▎▍▌▋▊▉█"
LABEL = 12  # "  SAFER     ", " poisoning  "
VALUE = 14  # " 0.912 −0.022 "
MIN_BAR, MAX_BAR = 3, 20


def scale(rows: list[SummaryRow]) -> tuple[float, float]:
    """The bars' range for one slice: from a little under its lowest accuracy (a multiple of
    0.05) to its highest, rounded up."""
    values = [r.accuracy for r in rows if not math.isnan(r.accuracy)]
    if not values:
        return 0.0, 1.0
    low = max(0.0, math.floor((min(values) - 0.02) * 20) / 20)
    high = min(1.0, math.ceil(max(values) * 20) / 20)
    return (low, high) if high > low else (max(0.0, high - 0.05), high)


def bar(value: float, clean: float, low: float, high: float, width: int, colour: str) -> Text:
    """`width` cells: the bar up to `value`, dots from there to the clean mark when below it."""
    span = high - low

    def cells(x: float) -> float:
        return 0.0 if math.isnan(x) else max(0.0, min(1.0, (x - low) / span)) * width

    filled, mark = cells(value), cells(clean)
    whole = int(filled)
    eighth = round((filled - whole) * 8)
    if eighth == 8:
        whole, eighth = whole + 1, 0
    text = Text("█" * whole, style=colour)
    if eighth and whole < width:
        text.append(EIGHTHS[eighth], style=colour)
    at = len(text)
    mark_cell = min(width - 1, int(mark))
    while at < width:
        if at == mark_cell:
            text.append("┊", style="bold")
        elif at < mark_cell:
            text.append("·", style="red")
        else:
            text.append(" ")
        at += 1
    return text


def accuracy_chart(view: ExperimentView, width: int = 80) -> Text:
    """The chart of `view`, at most `width` columns wide."""
    out = Text()
    for number, name in enumerate(view.slices()):
        rows = [r for r in view.rows if r.slice == name]
        clean = next((r for r in rows if r.method == "clean"), None)
        clean_acc = clean.accuracy if clean else float("nan")
        low, high = scale(rows)
        if number:
            out.append("\n")
        pairs = rows[0].pairs if rows else 0
        out.append(f"{name}", style="bold")
        out.append(f" · {pairs:,} test pairs · clean {clean_acc:.3f} ┊ · bars {low:.2f}–{high:.2f}")
        families = [
            (title, [(m, lab) for m, lab in methods if any(r.method == m for r in rows)])
            for title, methods in FAMILIES
        ]
        families = [(t, ms) for t, ms in families if ms]
        ratios = {
            t: sorted({r.ratio for r in rows if r.method in {m for m, _ in ms}})
            for t, ms in families
        }
        most = max((len(r) for r in ratios.values()), default=1)
        # no bars rather than cut values when even the narrowest bars leave no room for them
        room = (width - LABEL) // max(1, most) - VALUE
        bar_width = min(MAX_BAR, room) if room >= MIN_BAR else 0
        for title, methods in families:
            out.append(f"\n {title:<{LABEL - 1}}")
            for ratio in ratios[title]:
                out.append(f"{ratio:g}%".ljust(bar_width + VALUE), style="dim")
            for method, label in methods:
                out.append(f"\n  {label:<{LABEL - 2}}", style=COLOURS[label])
                found = {r.ratio: r for r in rows if r.method == method}
                for ratio in ratios[title]:
                    row = found.get(ratio)
                    if row is None:
                        out.append(" " * (bar_width + VALUE))
                        continue
                    if bar_width:
                        colour = COLOURS[label]
                        out.append(bar(row.accuracy, clean_acc, low, high, bar_width, colour))
                    change = Text(f"{row.change:+.3f}".replace("-", "−"))
                    change.stylize("red" if row.change < 0 else "green" if row.change > 0 else "")
                    out.append(f" {row.accuracy:.3f} ").append(change).append(" ")
    return out
