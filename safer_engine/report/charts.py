"""Charts as inline SVG: lines with 95% bands (the experiment, the noise benchmark), overlaid
histograms (the pair scores) and a feature's small activation histogram.

Plain strings, no plotting library: the report is one file a browser draws by itself, and
an SVG of a few kilobytes stays sharp at any zoom. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
GRID = "#e4e4e4"
AXIS = "#555"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'
MARGIN = (14, 34, 48)  # right, bottom, left; the top fits the title and the legend
LEGEND_ROW = 13


@dataclass(frozen=True)
class Series:
    """One line: its points and, where known, each point's 95% interval."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A horizontal reference across the chart (the clean runs): value and interval."""

    label: str
    value: float
    low: float
    high: float


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if raw <= m * step)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-6:
        ticks.append(round(value, 10))
        value += step
    return ticks


def label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


class _Frame:
    """A chart's plotting area: maps data to pixels and draws axes, grid and labels."""

    def __init__(
        self,
        width: int,
        height: int,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        legend: Sequence[tuple[str, str, bool]],
    ) -> None:
        self.width, self.height = width, height
        right, bottom, left = MARGIN
        self.left = left
        self.entries = self._place(legend)
        rows = len({y for _, y, _ in self.entries})
        self.top = 24 + LEGEND_ROW * rows + 6
        # a grown legend takes its room from the plot, not from the page
        self.inner_w, self.inner_h = width - left - right, height - self.top - bottom
        self.x0, self.x1 = x_range
        if self.x1 <= self.x0:  # one x value: put it in the middle
            self.x0, self.x1 = self.x0 - 1, self.x1 + 1
        self.y0, self.y1 = y_range

    def _place(
        self, legend: Sequence[tuple[str, str, bool]]
    ) -> list[tuple[float, float, tuple[str, str, bool]]]:
        """Where each legend entry goes: in rows above the plot, wrapping when long."""
        placed = []
        x, y = float(self.left), 24.0 + LEGEND_ROW - 3
        for entry in legend:
            width = 22 + 6.2 * len(entry[0])
            if x + width > self.width - 4 and x > self.left:
                x, y = float(self.left), y + LEGEND_ROW
            placed.append((x, y, entry))
            x += int(width) + 10
        return placed

    def x(self, value: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return self.left + (value - self.x0) / span * self.inner_w

    def y(self, value: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return self.top + (1 - (value - self.y0) / span) * self.inner_h

    def axes(self, title: str, x_label: str, y_label: str, x_ticks: Sequence[float]) -> list[str]:
        parts = [f'<text x="{self.left}" y="16" font-weight="600">{escape(title)}</text>']
        bottom = self.top + self.inner_h
        for tick in nice_ticks(self.y0, self.y1):
            y = self.y(tick)
            parts.append(
                f'<line x1="{self.left}" x2="{self.left + self.inner_w}" y1="{y:.1f}" '
                f'y2="{y:.1f}" stroke="{GRID}"/>'
                f'<text x="{self.left - 5}" y="{y + 3.5:.1f}" text-anchor="end" '
                f'fill="{AXIS}">{label(tick)}</text>'
            )
        for tick in x_ticks:
            x = self.x(tick)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" '
                f'stroke="{AXIS}"/><text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" '
                f'fill="{AXIS}">{label(tick)}</text>'
            )
        parts.append(
            f'<line x1="{self.left}" x2="{self.left + self.inner_w}" y1="{bottom}" '
            f'y2="{bottom}" stroke="{AXIS}"/>'
            f'<text x="{self.left + self.inner_w / 2:.1f}" y="{self.height - 4}" '
            f'text-anchor="middle" fill="{AXIS}">{escape(x_label)}</text>'
            f'<text transform="translate(12 {self.top + self.inner_h / 2:.1f}) rotate(-90)" '
            f'text-anchor="middle" fill="{AXIS}">{escape(y_label)}</text>'
        )
        return parts

    def legend(self) -> list[str]:
        """Colour swatches and labels in rows above the plot."""
        parts = []
        for x, y, (text, colour, dashed) in self.entries:
            dash = ' stroke-dasharray="4 3"' if dashed else ""
            parts.append(
                f'<line x1="{x}" x2="{x + 14}" y1="{y - 3.5}" y2="{y - 3.5}" stroke="{colour}" '
                f'stroke-width="2.5"{dash}/><text x="{x + 18}" y="{y}">{escape(text)}</text>'
            )
        return parts


def _svg(width: int, height: int, title: str, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" {FONT}><title>{escape(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def line_chart(
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    band: Band | None = None,
    reference: float | None = None,
    width: int = 460,
    height: int = 270,
) -> str:
    """Lines with markers and shaded 95% intervals; `band` a reference across (value and
    interval), `reference` a dotted line (chance)."""
    xs = _finite([x for s in series for x in s.x])
    ys = _finite([v for s in series for v in (*s.y, *(s.low or ()), *(s.high or ()))])
    if band is not None:
        ys += _finite([band.value, band.low, band.high])
    if reference is not None:
        ys.append(reference)
    if not xs or not ys:
        return ""
    y_low, y_high = min(ys), max(ys)
    pad = (y_high - y_low) * 0.08 or 0.05
    colours = [PALETTE[number % len(PALETTE)] for number in range(len(series))]
    entries = [(band.label, "#666", False)] if band is not None else []
    entries += [(s.label, c, s.dashed) for s, c in zip(series, colours, strict=True)]
    y_range = (y_low - pad, y_high + pad)
    frame = _Frame(width, height, (min(xs), max(xs)), y_range, entries)
    parts = frame.axes(title, x_label, y_label, sorted(set(xs)))
    if band is not None and math.isfinite(band.value):
        left, right = frame.x(frame.x0), frame.x(frame.x1)
        if math.isfinite(band.low) and math.isfinite(band.high):
            top, bottom = frame.y(band.high), frame.y(band.low)
            parts.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
                f'height="{max(bottom - top, 0.5):.1f}" fill="#999" fill-opacity="0.18"/>'
            )
        y = frame.y(band.value)
        parts.append(
            f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#666"/>'
        )
    if reference is not None:
        y = frame.y(reference)
        parts.append(
            f'<line x1="{frame.x(frame.x0):.1f}" x2="{frame.x(frame.x1):.1f}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#999" stroke-dasharray="2 3"/>'
        )
    for line, colour in zip(series, colours, strict=True):
        parts += _line(frame, line, colour)
    parts += frame.legend()
    return _svg(width, height, title, parts)


def _line(frame: _Frame, line: Series, colour: str) -> list[str]:
    unknown = [math.nan] * len(line.x)
    points = [
        (float(x), float(y), float(lo), float(hi))
        for x, y, lo, hi in zip(
            line.x, line.y, line.low or unknown, line.high or unknown, strict=True
        )
        if y is not None and math.isfinite(y)
    ]
    if not points:
        return []
    parts = []
    with_band = [(x, lo, hi) for x, _, lo, hi in points if math.isfinite(lo + hi)]
    if len(with_band) > 1:
        upper = " ".join(f"{frame.x(x):.1f},{frame.y(hi):.1f}" for x, _, hi in with_band)
        lower = " ".join(f"{frame.x(x):.1f},{frame.y(lo):.1f}" for x, lo, _ in reversed(with_band))
        parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.15"/>')
    elif with_band:  # one point: its interval as a bar
        x, lo, hi = with_band[0]
        parts.append(
            f'<line x1="{frame.x(x):.1f}" x2="{frame.x(x):.1f}" y1="{frame.y(lo):.1f}" '
            f'y2="{frame.y(hi):.1f}" stroke="{colour}"/>'
        )
    path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y, _, _ in points)
    dash = ' stroke-dasharray="5 3"' if line.dashed else ""
    parts.append(
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
    )
    parts += [
        f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3" fill="{colour}">'
        f"<title>{escape(line.label)}: {label(x)} → {y:.3f}</title></circle>"
        for x, y, _, _ in points
    ]
    return parts


def histogram_chart(
    title: str,
    edges: Sequence[float],
    counts: Mapping[str, Sequence[int]],
    x_label: str,
    y_label: str = "pairs",
    width: int = 620,
    height: int = 270,
) -> str:
    """One histogram per group on shared bins, overlaid as translucent bars."""
    if len(edges) < 2 or not counts:
        return ""
    peak = max((max(c, default=0) for c in counts.values()), default=0) or 1
    colours = {name: PALETTE[number % len(PALETTE)] for number, name in enumerate(counts)}
    entries = [(f"{name} ({sum(c):,})", colours[name], False) for name, c in counts.items()]
    frame = _Frame(width, height, (edges[0], edges[-1]), (0.0, peak * 1.05), entries)
    parts = frame.axes(title, x_label, y_label, nice_ticks(edges[0], edges[-1], 8))
    if edges[0] < 0 < edges[-1]:
        x = frame.x(0.0)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top}" '
            f'y2="{frame.top + frame.inner_h}" stroke="{AXIS}" stroke-dasharray="3 3"/>'
        )
    for name, values in counts.items():
        colour = colours[name]
        for left, right, count in zip(edges[:-1], edges[1:], values, strict=True):
            if count:
                x0, x1, y = frame.x(left), frame.x(right), frame.y(count)
                parts.append(
                    f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
                    f'height="{frame.y(0) - y:.1f}" fill="{colour}" fill-opacity="0.45">'
                    f"<title>{escape(name)}: {count:,} between {left:.3g} and {right:.3g}"
                    "</title></rect>"
                )
    parts += frame.legend()
    return _svg(width, height, title, parts)


def spark_histogram(counts: Sequence[int], edges: Sequence[float], colour: str) -> str:
    """A feature's activation histogram, small: bars only, the range under it."""
    width, height = 180, 40
    filled = [i for i, c in enumerate(counts) if c]
    if not filled:
        return ""
    end = filled[-1] + 1
    shown, peak = counts[:end], max(counts[:end])
    bar = width / len(shown)
    parts = []
    for i, count in enumerate(shown):
        if count:
            h = max(1.0, math.sqrt(count / peak) * (height - 12))  # √: the tail stays visible
            parts.append(
                f'<rect x="{i * bar:.1f}" y="{height - 12 - h:.1f}" '
                f'width="{max(bar - 0.6, 0.6):.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
    low, high = edges[0], edges[min(end, len(edges) - 1)]
    parts.append(
        f'<text x="0" y="{height - 1}" font-size="9" fill="{AXIS}">{low:.3g}</text>'
        f'<text x="{width}" y="{height - 1}" font-size="9" text-anchor="end" '
        f'fill="{AXIS}">{high:.3g}</text>'
    )
    return _svg(width, height, "activation histogram (√ counts)", parts)
