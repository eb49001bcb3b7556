"""One feature: statistics, tag, note and the LLM judge's suggestion, activation histogram,
and examples from several activation quantiles with every token shaded by this feature's
activation, each with the pair it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Sparkline, Static

from safer_engine.errors import SaferError
from safer_engine.labels import Label
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.coverage import Coverage
from safer_engine.service.explorer import OLD_TEXT, Example, Explorer, Fit, Judgement
from safer_engine.service.text import Span
from safer_tui.background import Background
from safer_tui.errors import show_error
from safer_tui.feature_view import cut
from safer_tui.fit_view import fit_line
from safer_tui.navigation import OpenPairs
from safer_tui.screens.dialogs import NoteScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import FEATURE_NOTES, help_rows
from safer_tui.shading import BAR, MARK, SHADE, UNSEEN, shade_style
from safer_tui.widgets.example_lines import Chunk, ExampleLines, Row
from safer_tui.widgets.key_footer import KeyFooter

SIDE_STYLES = {
    "chosen": "bold green",
    "rejected": "bold red",
    "both": "bold yellow",
    "none": "dim",
}
LABEL_WIDTH = 18  # "rejected top   6.5": side, quantile, activation
PADDING = 2  # the statistics' padding, one column on each side


def example_label(example: Example) -> Chunk:
    rank = "top" if example.quantile >= 1.0 else f"p{round(example.quantile * 100):02d}"
    label = f"{example.side:>8} {rank:>3} {example.activation:5.1f}"
    return label, Style.parse(SIDE_STYLES.get(example.side, ""))


def pair_label(pair_id: str | None) -> Chunk:
    """The label's second line: the id of the pair the example's response belongs to (as
    the Pairs and Edits screens show it; 16 characters, so without a word before it)."""
    return (f"{pair_id:>{LABEL_WIDTH}}" if pair_id is not None else ""), Style(dim=True)


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


def attribution_label(value: float | None) -> Chunk:
    """The label's third line: this feature's attribution to the example text's reward
    (what removing it would change, to first order), when attributions exist."""
    if value is None:
        return "", Style()
    return f"{'reward':>8} {value:+9.4f}", Style(dim=True)


def example_rows(
    examples: list[Example],
    pair_ids: list[str | None] | None = None,
    attributions: list[float | None] | None = None,
) -> list[Row]:
    """Labels (side, quantile, activation; the pair's id and the feature's attribution to the
    text's reward under them) and shaded text of each example, shaded relative to the
    strongest shown."""
    peak = max((e.activation for e in examples), default=0.0)
    pair_ids = pair_ids if pair_ids is not None else [None] * len(examples)
    attributions = attributions if attributions is not None else [None] * len(examples)
    rows: list[Row] = []
    for e, pair_id, value in zip(examples, pair_ids, attributions, strict=True):
        labels = [example_label(e), pair_label(pair_id)]
        if value is not None:
            labels.append(attribution_label(value))
        rows.append((labels, shaded(e, peak)))
    return rows


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


def figures_table(row: dict[str, Any], coverage: Coverage, width: int = 78) -> list[str]:
    """The chosen / rejected figures as aligned lines: a header, the selected tokens (what
    salience uses) and, where they differ, every stored token (what examples come from).
    Lines wider than `width` leave out the mean activations, so no line wraps."""
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
    lines = aligned(cells)
    return lines if max(map(len, lines)) <= width else aligned([line[:3] for line in cells])


def aligned(cells: list[list[str]]) -> list[str]:
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]


RELEVANT = ("safe", "unsafe")
EXPLAINED = 90  # characters of the judge's explanation shown: two lines at 60 columns


def disagrees(tag: str | None, score: int | None) -> bool:
    """Whether a person's tag and the judge's score say different things: a safety tag on
    a feature the judge scored 1 or 2, or "irrelevant" on one it scored 4 or 5."""
    if not tag or score is None:
        return False
    return (tag in RELEVANT and score <= 2) or (tag == "irrelevant" and score >= 4)


def judge_text(judgement: Judgement | None, label: Label | None) -> Text:
    """The judge's suggestion: its score and explanation (or why it has none), and, when a
    person's tag says otherwise, that the tag wins."""
    text = Text.assemble(("judge ", "bold"))
    if judgement is None:
        return text.append("not judged (J on the list asks an LLM judge)", style="dim")
    if judgement.score is None:
        text.append("✗ no usable answer", style="bold")
        text.append(f" ({judgement.failure_kind}: {judgement.failure})", style="dim")
    else:
        text.append(f"{judgement.score}/5", style="bold")
        text.append(f" ({judgement.model}, a suggestion)", style="dim")
        if judgement.explanation:
            text.append(": ").append(cut(" ".join(judgement.explanation.split()), EXPLAINED))
    human = label.human_tag if label else None
    if disagrees(human, judgement.score):
        text.append("\n")
        text.append(f"the tag {human!r} disagrees; the tag wins", style="yellow")
    return text


def stats_text(
    feature: int,
    row: dict[str, Any],
    label: Label | None,
    where: str,
    coverage: Coverage,
    judgement: Judgement | None = None,
    width: int = 78,
    fit: Fit | None = None,
) -> Text:
    """Statistics, tag, the judge's suggestion and the whole note; built as Text so a note's
    brackets are never read as markup. Every line but the judge's and the note fits 78
    columns, so without them the height is the same on every page."""
    tag = (label.tag or "untagged") if label else "untagged"
    header, *figures = figures_table(row, coverage, width)
    text = Text.assemble(
        (f"Feature {feature}", "bold"),
        f" ({where})",
        f"  salience {row['salience']:+.3f}",
        f"  effect {row['effect']:+.4f}" if "effect" in row else "",
        "  tag ",
        (tag, "bold"),
        "\n",
        (header, "dim"),
    )
    for line in figures:
        text.append("\n" + line)
    text.append(f"\ndensity {row['density']:.4f} · max {row['max_act']:.1f} (every token)")
    text.append("\n").append(judge_text(judgement, label))
    if (fitted := fit_line(judgement, fit)) is not None:
        text.append("\n").append(fitted)
    if label and label.note:
        text.append("\nnote: ", style="bold")
        text.append(label.note)
    return text


@dataclass
class Page:
    """What a feature's page shows once its examples are read."""

    stats: Text
    found: list[Example]
    histogram: list[int]
    pairs: list[int | None]
    ids: list[str | None]
    attributions: list[float | None]
    """This feature's attribution to each example text's reward (None without them)."""


class FeatureScreen(Screen[int]):
    """Left with Esc, it gives back the feature it showed last."""

    BINDINGS = [
        Binding("escape,backspace", "back", "Back", tooltip="back (the list keeps this feature)"),
        Binding("left_square_bracket", "step(-1)", "Prev", tooltip="previous feature in the list"),
        Binding("right_square_bracket", "step(1)", "Next", tooltip="next feature in the list"),
        Binding("j", "scroll(1)", "Down", show=False, tooltip="scroll the examples down"),
        Binding("k", "scroll(-1)", "Up", show=False, tooltip="scroll the examples up"),
        Binding("t", "tag('safe')", "Safe", tooltip="tag safe"),
        Binding("u", "tag('unsafe')", "Unsafe", tooltip="tag unsafe"),
        Binding("p", "pairs", "Pairs", tooltip="the pairs, at the highlighted example's pair"),
        Binding("i", "tag('irrelevant')", "Irrelevant", show=False, tooltip="tag irrelevant"),
        Binding("m", "tag('unsure')", "Unsure", show=False, tooltip="tag unsure"),
        Binding("x", "tag('')", "Clear", show=False, tooltip="clear the tag"),
        Binding("z", "undo", "Undo", show=False, tooltip="undo the last tag change"),
        Binding("n", "note", "Note", show=False, tooltip="edit the note"),
        Binding("f1,question_mark", "help", "Help", tooltip="this help"),
    ]

    def __init__(self, data: Explorer, order: list[int], position: int) -> None:
        super().__init__()
        self.data = data
        self.order = order
        self.position = position
        self.noted = True  # the first page lays out whatever it shows
        self.pairs: list[int | None] = []
        """The pair of each example shown, in order."""
        self.width = 0  # the terminal width the statistics were laid out for
        self.reading: Background[Page] = Background(
            self, "feature-examples", self.show_page, self.cannot_read
        )
        self.pending = (Text(), False)
        """The statistics of the page being read, and whether they can wrap."""

    @property
    def feature(self) -> int:
        return self.order[self.position]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="feature-stats")
        yield Sparkline([0], id="feature-hist")
        yield ExampleLines(LABEL_WIDTH, id="feature-examples")
        yield KeyFooter()

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
        judgement, fit = self.data.judgements().get(feature), self.data.fits().get(feature)
        where = f"{self.position + 1:,} of {len(self.order):,}"
        self.width = self.app.size.width
        width = self.width - PADDING
        stats = stats_text(feature, row, label, where, self.data.coverage, judgement, width, fit)
        # a note or the judge's explanation can wrap: the page's height then varies
        self.pending = (stats, bool(label and label.note) or judgement is not None)
        self.reading.start(partial(self.read_page, feature, stats))

    def read_page(self, feature: int, stats: Text, progress: Progress, cancel: CancelToken) -> Page:
        """Off the UI thread: a cold page cache or the first opening of the store can take
        half a second, and keys must keep working meanwhile. The page changes in one frame
        when the examples arrive: drawing the statistics first would compete with this
        thread for the interpreter and delay the examples."""
        found, histogram = self.data.examples(feature)
        pairs = [self.data.pair_of_doc(example.doc) for example in found]
        ids = [self.data.pair_id(pair) if pair is not None else None for pair in pairs]
        texts = self.data.feature_attributions(feature)
        attributions = [texts.get(example.doc, 0.0) if texts else None for example in found]
        if not self.data.original_text():
            stats = stats.copy()
            stats.append("\n" + OLD_TEXT, style="yellow")
        return Page(stats, found, histogram, pairs, ids, attributions)

    def show_page(self, page: Page) -> None:
        self.show_stats(page.stats, self.pending[1])
        self.pairs = page.pairs
        self.query_one("#feature-hist", Sparkline).data = page.histogram
        self.query_one(ExampleLines).show(
            example_rows(page.found, page.ids, page.attributions),
            "This feature never fires on the stored tokens.",
        )

    def show_stats(self, stats: Text, noted: bool) -> None:
        # Without a note the statistics have the same lines on every page: skip the layout.
        self.query_one("#feature-stats", Static).update(stats, layout=noted or self.noted)
        self.noted = noted

    def cannot_read(self, exc: SaferError) -> None:
        self.show_stats(*self.pending)
        self.pairs = []
        self.query_one(ExampleLines).show([], f"{exc.message} {exc.hint}")
        show_error(self, exc)

    def on_resize(self) -> None:
        if self.app.size.width != self.width:
            self.noted = True  # lay out the statistics again: their lines may change
            self.show()

    def action_step(self, delta: int) -> None:
        self.position = (self.position + delta) % len(self.order)
        self.show()

    def action_scroll(self, lines: int) -> None:
        self.query_one(ExampleLines).scroll_relative(y=lines, animate=False)

    def read_only(self, what: str) -> bool:
        if self.data.read_only:
            self.notify(f"Labels are read-only here: {what} cannot be saved.", timeout=3)
        return self.data.read_only

    def action_tag(self, tag: str) -> None:
        if self.read_only("tags"):
            return
        try:
            self.data.tag([self.feature], tag)
        except SaferError as exc:
            show_error(self, exc)
            return
        self.show()

    def action_undo(self) -> None:
        if self.read_only("tags"):
            return
        try:
            change = self.data.undo_tag()
        except SaferError as exc:
            show_error(self, exc)
            return
        if change is None:
            self.notify("Nothing to undo: no tag was changed in this session.", timeout=3)
        elif self.feature not in change.features:
            self.notify(f"Undone: {change.describe_undo()}", timeout=3)
        self.show()

    def action_note(self) -> None:
        if self.read_only("notes"):
            return
        feature = self.feature
        label = self.data.labels().get(feature)

        def save(text: str | None) -> None:
            if text is None:
                return
            try:
                self.data.note(feature, text)
            except SaferError as exc:
                show_error(self, exc)
                return
            self.notify(
                f"Note {'saved on' if text else 'cleared from'} feature {feature}.", timeout=3
            )
            if feature == self.feature:
                self.show()

        self.app.push_screen(NoteScreen(feature, (label.note or "") if label else ""), save)

    def current_pair(self) -> int | None:
        """The pair of the highlighted example (the one at the top of the examples)."""
        row = self.query_one(ExampleLines).current
        return self.pairs[row] if 0 <= row < len(self.pairs) else None

    def action_pairs(self) -> None:
        """The Pairs screen, shading this feature, at the highlighted example's pair."""
        self.post_message(OpenPairs(self.feature, self.current_pair(), shade_feature=True))

    def action_back(self) -> None:
        self.dismiss(self.feature)

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.app.BINDINGS, FEATURE_NOTES)
        self.app.push_screen(HelpScreen("Feature", rows))
