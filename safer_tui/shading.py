"""How text is drawn: token shading blended over a grey background, and the marks for text
left out (…) or never read by the model (✂)."""

from __future__ import annotations

import re

from rich.cells import cell_len, set_cell_size
from rich.color import Color
from rich.style import Style
from rich.text import Text

from safer_engine.service.text import Span

BAR = Style(bold=True, color="cyan")
MARK = Style(bold=True, color="yellow")  # … and ✂: text left out, or never read by the model
UNSEEN = Style(dim=True, italic=True)
SHADE = (255, 140, 0)  # activation colour, blended over the background by strength
BASE = 30  # the background grey that shading blends from
SAFE_RGB, UNSAFE_RGB = (0, 170, 80), (200, 40, 40)
MATCH = Style(reverse=True, bold=True)  # a search's matches, over any shading


def shade_style(rgb: tuple[int, int, int], strength: float) -> Style:
    """A background `strength` (0–1) of the way from the base grey to `rgb`."""
    if strength <= 0:
        return Style()
    r, g, b = (int(c * strength + BASE * (1 - strength)) for c in rgb)
    return Style(bgcolor=Color.from_rgb(r, g, b))


def shade(spans: list[Span], peak: float, by_feature: bool) -> Text:
    """The response with its tokens on a background as strong as their value: one feature's
    activation in the Feature screen's colour, or the tagged sum in green (safe) / red
    (unsafe). What the model never read follows ✂, dim and unshaded."""
    text = Text()
    for span in spans:
        if span.part == "stop":  # exactly where the model stopped: the text is unchanged
            text.append(span.text, style=MARK)
            continue
        if span.part == "unseen":
            text.append(span.text, style=UNSEEN)
            continue
        style = Style()
        if span.token:
            strength = min(1.0, abs(span.value) / peak) if peak > 0 else 0.0
            rgb = SHADE if by_feature else SAFE_RGB if span.value > 0 else UNSAFE_RGB
            style = shade_style(rgb, strength)
            if span.text.isspace():  # a newline token: show where its shading goes
                text.append("⏎", style=style)
        text.append(span.text, style=style)
    return text


def mark_search(text: Text, search: str) -> Text:
    """`text` with every occurrence of a search (in any case, as the search finds them)
    marked; changed in place, and returned."""
    needle = search.strip()
    if needle:
        text.highlight_regex(re.compile(re.escape(needle), re.IGNORECASE), MATCH)
    return text


def prompt_text(spans: list[Span], expanded: bool, search: str = "") -> Text:
    """The prompt in italics, the part the model never read dim before ✂; its line breaks
    as ⏎ while it is cut to a few lines, real ones when it is shown whole; a search's
    matches marked."""
    text = Text()
    for span in spans:
        if span.part == "stop":
            text.append(span.text, style=MARK)
        elif span.part in ("cut", "start"):
            text.append(span.text, style=BAR)
        else:
            body = span.text if expanded else span.text.replace("\n", "⏎ ")
            text.append(body, style=UNSEEN if span.part == "unseen" else Style(italic=True))
    return Text.assemble(("prompt ", "bold"), mark_search(text, search))


def cut_at_word(text: str, size: int) -> str:
    """`text` in at most `size` cells, cut after a whole word with an ellipsis where it can
    be (a word half shown reads as another word: "note" as "not"), else mid-word."""
    if cell_len(text) <= size:
        return text
    head = set_cell_size(text, size - 1)
    whole = len(head) < len(text) and text[len(head)].isspace()
    space = head.rfind(" ")
    if not whole and space >= size // 2:
        head = head[:space]
    return head.rstrip() + "…"
