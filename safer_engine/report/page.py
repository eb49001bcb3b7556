"""The report's HTML building blocks: the page around the sections, its inline style, tables,
figures and the data's own text with its tokens shaded as the explorer shades them.

Everything a person reads comes from the data or the workspace, so every string is escaped
here; the sections pass values, never markup of their own making from data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from safer_engine.store.text import Span

SHADE = (255, 140, 0)
"""One feature's activation, as the explorer's Feature screen shades it (`safer_tui`)."""
SAFE, UNSAFE = "#00aa50", "#c82828"

STYLE = (
    """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
  margin: 0 auto; max-width: 1100px; padding: 24px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-top: 8px; border-top: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p, li { max-width: 78ch; }
.meta { color: #666; }
nav ol { columns: 2; padding-left: 20px; }
table { border-collapse: collapse; margin: 8px 0 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e6e6e6; text-align: left;
  vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.n, th.n { text-align: right; white-space: nowrap; }
td.id { white-space: nowrap; }
code, .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 6px 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 10px 18px; }
.feature { border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; margin: 14px 0; }
.feature header { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
.feature h3 { margin: 0; }
.badge { border-radius: 4px; padding: 0 6px; color: #fff; font-size: 12px; font-weight: 600; }
.safe { background: """
    + SAFE
    + """; } .unsafe { background: """
    + UNSAFE
    + """; }
.figures { display: flex; flex-wrap: wrap; gap: 4px 22px; align-items: center; margin: 6px 0; }
.example { display: grid; grid-template-columns: 11em 1fr; gap: 2px 12px; padding: 5px 0;
  border-top: 1px dashed #e3e3e3; }
.example .label { font-size: 12px; color: #555; white-space: nowrap; }
.text { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.text .p { opacity: 0.6; }
.text .f { font-weight: 700; text-decoration: underline; }
.text .m { color: #b07800; font-weight: 700; }
.text .b { color: #00838f; font-weight: 700; }
.text .u { opacity: 0.55; font-style: italic; }
@media print { .feature, table, svg { break-inside: avoid; } }
"""
)


def page(title: str, body: Sequence[str], config_json: str) -> str:
    """The whole document: one file, its style inline, nothing fetched."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        # how the report was made, machine-readable, beside what it shows
        + f'\n<script type="application/json" id="safer-report-config">{_script_safe(config_json)}'
        "</script>\n</body></html>\n"
    )


def _script_safe(text: str) -> str:
    """JSON inside <script>: no `</` can end the element early."""
    return text.replace("</", "<\\/")


def section(anchor: str, title: str, parts: Sequence[str]) -> str:
    return (
        f'<section id="{escape(anchor)}"><h2>{escape(title)}</h2>\n'
        + "\n".join(parts)
        + ("</section>")
    )


def paragraph(text: str, cls: str = "") -> str:
    """Plain text as a paragraph (escaped)."""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{escape(text)}</p>"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: int = 0, ids: bool = False
) -> str:
    """A table of plain values (escaped); the last `numeric` columns right-aligned, and with
    `ids` the first column an identifier (monospaced, never wrapped)."""
    first_number = len(headers) - numeric

    def cell(tag: str, index: int, value: object) -> str:
        cls = ' class="n"' if index >= first_number else ' class="id"' if ids and index == 0 else ""
        return f"<{tag}{cls}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def number(value: float | None, digits: int = 3, signed: bool = False) -> str:
    """A figure, or an em dash for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def interval(low: float | None, high: float | None, digits: int = 3, signed: bool = False) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "—"
    return f"{number(low, digits, signed)} – {number(high, digits, signed)}"


def badge(side: str) -> str:
    cls = "safe" if side == "safe" else "unsafe"
    return f'<span class="badge {cls}">{escape(side)}</span>'


def shaded_text(spans: Sequence[Span], peak: float) -> str:
    """The example's text as the explorer draws it: each token on an orange background as
    strong as its activation (relative to `peak`), the drawn token bold and underlined, the
    prompt dimmed, ▍ where the response starts, … where text is left out and ✂ where the
    model's input ends; line breaks shown as ⏎."""
    out = []
    for span in spans:
        if span.part == "start":
            out.append('<span class="b"> ▍</span>')
        elif span.part == "stop":
            out.append('<span class="m"> ✂</span>')
        elif span.part == "cut":
            out.append(f'<span class="m">{escape(span.text)}</span>')
        elif span.part == "unseen":
            out.append(f'<span class="u">{_visible(span.text)}</span>')
        else:
            classes = [c for c, on in (("p", span.part == "prompt"), ("f", span.focus)) if on]
            style = ""
            if span.token and peak > 0:
                strength = min(1.0, abs(span.value) / peak)
                if strength > 0:
                    r, g, b = SHADE
                    style = f' style="background:rgba({r},{g},{b},{strength:.2f})"'
                    classes.append("t")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            title = f' title="{span.value:.3f}"' if span.token and span.value else ""
            out.append(f"<span{cls}{style}{title}>{_visible(span.text)}</span>")
    return '<div class="text">' + "".join(out) + "</div>"


def _visible(text: str) -> str:
    """Escaped, with line breaks as a visible ⏎ (an example is one paragraph)."""
    return escape(text).replace("\n", "⏎ ")
