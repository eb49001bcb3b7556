"""One feature: statistics, activation histogram, and examples from several activation
quantiles with every token shaded by this feature's activation."""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Sparkline, Static

from safer_engine.errors import SaferError
from safer_engine.labels import Label
from safer_engine.service.coverage import Coverage
from safer_engine.service.explorer import OLD_TEXT, Example, Explorer
from safer_engine.service.text import Span
from safer_tui.errors import show_error
from safer_tui.screens.help import HelpScreen
from safer_tui.widgets.example_lines import Chunk, ExampleLines

SIDE_STYLES = {
    "chosen": "bold green",
    "rejected": "bold red",
    "both": "bold yellow",
    "none": "dim",
}
BAR = Style(bold=True, color="cyan")
MARK = Style(bold=True, color="yellow")  # … and ✂: text left out, or never read by the model
UNSEEN = Style(dim=True, italic=True)
SHADE = (255, 140, 0)  # activation colour, blended over the background by strength
BASE = 30  # the background grey that shading blends from
LABEL_WIDTH = 18  # "rejected top   6.5": side, quantile, activation
HELP_KEYS = [  # descriptions fit the help box: 46 columns
    ("", "examples: top = strongest activations; p90,"),
    ("", "p50, p10 = drawn around those percentiles;"),
    ("", "the prompt is dim, ▍ marks where it ends,"),
    ("", "… marks text left out, ✂ where the model's"),
    ("", "input ended (text after it was never read)"),
    ("", "sums, firing: over the selected tokens (as"),
    ("", "salience) and over all tokens (as examples)"),
    ("[ / ]", "previous / next feature (in the list's order)"),
    ("j / k", "scroll the examples"),
    ("t u i m", "tag safe / unsafe / irrelevant / unsure"),
    ("x", "clear the tag"),
    ("Esc", "back"),
    ("F1 / ?", "this help"),
]


def shade_style(rgb: tuple[int, int, int], strength: float) -> Style:
    """A background `strength` (0–1) of the way from the base grey to `rgb`."""
    if strength <= 0:
        return Style()
    r, g, b = (int(c * strength + BASE * (1 - strength)) for c in rgb)
    return Style(bgcolor=Color.from_rgb(r, g, b))


def example_label(example: Example) -> Chunk:
    rank = "top" if example.quantile >= 1.0 else f"p{round(example.quantile * 100):02d}"
    label = f"{example.side:>8} {rank:>3} {example.activation:5.1f}"
    return label, Style.parse(SIDE_STYLES.get(example.side, ""))


def newlines(text: str) -> str:
    """Line breaks as a visible ⏎ (an example is one paragraph), with room to wrap after."""
    return text.replace("\n", "⏎") + (" " if text.endswith("\n") else "")


def span_chunk(span: Span, peak: float) -> Chunk:
    """One span as the examples draw it: markers in their colours, the prompt dim, text the
    model never read dim and italic, each token on a background as strong as its value."""
    if span.part == "start":
        return " ▍", BAR  # where the prompt ends and the response starts
    if span.part == "stop":
        return " ✂", MARK
    if span.part == "cut":
        return span.text, MARK
    if span.part == "unseen":
        return newlines(span.text), UNSEEN
    style = Style(dim=span.part == "prompt", bold=span.focus, underline=span.focus)
    if span.token:
        strength = min(1.0, abs(span.value) / peak) if peak > 0 else 0.0
        style += shade_style(SHADE, strength)
    return newlines(span.text), style


def shaded(example: Example, peak: float) -> list[Chunk]:
    """The example's text, each token on a background as strong as its activation; the
    prompt dimmed and a bar where the response starts."""
    return [span_chunk(span, peak) for span in example.spans]


def example_rows(examples: list[Example]) -> list[tuple[Chunk, list[Chunk]]]:
    """Label and shaded text of each example, shaded relative to the strongest shown."""
    peak = max((e.activation for e in examples), default=0.0)
    return [(example_label(e), shaded(e, peak)) for e in examples]


def compact(value: float) -> str:
    """A sum in at most 7 characters: 20.0, 12345, 1.23M."""
    if abs(value) < 1e4:
        return f"{value:.1f}"
    return f"{value:,.0f}" if abs(value) < 1e6 else f"{value / 1e6:.2f}M"


def rate(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


FIGURES = tuple(
    f"{kind}_{side}" for kind in ("sum", "fire_rate", "mean_act") for side in ("chosen", "rejected")
)


def figures_table(row: dict[str, Any], coverage: Coverage) -> list[str]:
    """The chosen / rejected figures as aligned lines: a header, the selected tokens (what
    salience uses) and, where they differ, every stored token (what examples come from)."""
    kinds = [("", coverage.selected_text())]
    if coverage.has_all and all(f"{name}_all" in row for name in FIGURES):
        kinds.append(("_all", coverage.every_text()))
    cells = [["chosen / rejected", "sums", "firing", "mean act"]]
    for suffix, label in kinds:
        cells.append(
            [
                label,
                f"{compact(row['sum_chosen' + suffix])} / {compact(row['sum_rejected' + suffix])}",
                f"{rate(row['fire_rate_chosen' + suffix])} / "
                f"{rate(row['fire_rate_rejected' + suffix])}",
                f"{rate(row['mean_act_chosen' + suffix])} / "
                f"{rate(row['mean_act_rejected' + suffix])}",
            ]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(4)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]


def stats_text(
    feature: int,
    row: dict[str, Any],
    label: Label | None,
    where: str,
    coverage: Coverage,
) -> Text:
    """Statistics, tag and the whole note; built as Text so a note's brackets are never read
    as markup. Every line fits 78 columns, so the height is the same on every page."""
    tag = (label.tag or "untagged") if label else "untagged"
    header, *figures = figures_table(row, coverage)
    text = Text.assemble(
        (f"Feature {feature}", "bold"),
        f" ({where})",
        f"  salience {row['salience']:+.3f}  tag ",
        (tag, "bold"),
        "\n",
        (header, "dim"),
    )
    for line in figures:
        text.append("\n" + line)
    text.append(f"\ndensity {row['density']:.4f} · max {row['max_act']:.1f} (every token)")
    if label and label.note:
        text.append("\nnote: ", style="bold")
        text.append(label.note)
    return text


class FeatureScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("left_square_bracket", "step(-1)", "Prev"),
        Binding("right_square_bracket", "step(1)", "Next"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
        Binding("t", "tag('safe')", "Safe"),
        Binding("u", "tag('unsafe')", "Unsafe"),
        Binding("i", "tag('irrelevant')", "Irrelevant", show=False),
        Binding("m", "tag('unsure')", "Unsure", show=False),
        Binding("x", "tag('')", "Clear", show=False),
        Binding("f1,question_mark", "help", "Help"),
    ]

    def __init__(self, data: Explorer, order: list[int], position: int) -> None:
        super().__init__()
        self.data = data
        self.order = order
        self.position = position
        self.noted = True  # the first page lays out whatever it shows

    @property
    def feature(self) -> int:
        return self.order[self.position]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="feature-stats")
        yield Sparkline([0], id="feature-hist")
        yield ExampleLines(LABEL_WIDTH, id="feature-examples")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # Fixed: a changing title would cost a layout pass (a frame) on every page.
        self.sub_title = f"SAE {self.data.sae_id}"
        self.query_one(ExampleLines).show([], "Reading the examples…")
        self.show()
        self.query_one(ExampleLines).focus()

    def show(self) -> None:
        feature = self.feature
        row = self.data.feature_row(feature)
        label = self.data.labels().get(feature)
        where = f"{self.position + 1:,} of {len(self.order):,}"
        stats = stats_text(feature, row, label, where, self.data.coverage)
        self.read_examples(feature, stats, bool(label and label.note))

    @work(thread=True, exclusive=True, group="feature-examples")
    def read_examples(self, feature: int, stats: Text, noted: bool) -> None:
        """Off the UI thread: a cold page cache or the first opening of the store can take
        half a second, and keys must keep working meanwhile. The page changes in one frame
        when the examples arrive: drawing the statistics first would compete with this
        thread for the interpreter and delay the examples."""
        try:
            found, histogram = self.data.examples(feature)
            if not self.data.original_text():
                stats = stats.copy()
                stats.append("\n" + OLD_TEXT, style="yellow")
        except SaferError as exc:
            self.app.call_from_thread(self.cannot_read, stats, noted, exc)
            return
        self.app.call_from_thread(self.show_page, feature, stats, noted, found, histogram)

    def show_page(
        self, feature: int, stats: Text, noted: bool, found: list[Example], histogram: list[int]
    ) -> None:
        if feature != self.feature:
            return  # read for a page the user has already left
        self.show_stats(stats, noted)
        self.query_one("#feature-hist", Sparkline).data = histogram
        self.query_one(ExampleLines).show(
            example_rows(found), "This feature never fires on the stored tokens."
        )

    def show_stats(self, stats: Text, noted: bool) -> None:
        # Without a note the statistics have the same lines on every page: skip the layout.
        self.query_one("#feature-stats", Static).update(stats, layout=noted or self.noted)
        self.noted = noted

    def cannot_read(self, stats: Text, noted: bool, exc: SaferError) -> None:
        self.show_stats(stats, noted)
        self.query_one(ExampleLines).show([], f"{exc.message} {exc.hint}")
        show_error(self, exc)

    def action_step(self, delta: int) -> None:
        self.position = (self.position + delta) % len(self.order)
        self.show()

    def action_scroll(self, lines: int) -> None:
        self.query_one(ExampleLines).scroll_relative(y=lines, animate=False)

    def action_tag(self, tag: str) -> None:
        try:
            self.data.tag([self.feature], tag)
        except SaferError as exc:
            show_error(self, exc)
            return
        self.show()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Feature", HELP_KEYS))
