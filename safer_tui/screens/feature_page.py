"""One feature: statistics, tag, note and the LLM judge's suggestion, activation histogram,
and examples from several activation quantiles with every token shaded by this feature's
activation, each with the pair it comes from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Static

from safer_engine.errors import SaferError
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.explorer import OLD_TEXT, Example, Explorer, Histogram
from safer_tui.background import Background
from safer_tui.errors import show_error
from safer_tui.feature_text import LABEL_WIDTH, example_rows, stats_text
from safer_tui.navigation import OpenPairs
from safer_tui.screens.dialogs import NoteScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import FEATURE_NOTES, help_rows
from safer_tui.widgets.example_lines import ExampleLines
from safer_tui.widgets.histogram import ActivationHistogram
from safer_tui.widgets.key_footer import KeyFooter

PADDING = 2  # the statistics' padding, one column on each side


@dataclass
class Page:
    """What a feature's page shows once its examples are read."""

    stats: Text
    found: list[Example]
    histogram: Histogram
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

    def __init__(self, data: Explorer, order: list[int], position: int, word: str = "") -> None:
        """`word`: a word search whose tokens the examples mark."""
        super().__init__()
        self.data = data
        self.order = order
        self.position = position
        self.word = word
        self.noted = True  # the first page lays out whatever it shows
        self.pairs: list[int | None] = []
        """The pair of each example shown, in order."""
        self.width = 0  # the terminal width the statistics were laid out for
        self.reading: Background[Page] = Background(
            self, "feature-examples", self.show_page, self.cannot_read
        )
        self.pending = (Text(), False)
        """The statistics of the page being read, and whether they can wrap."""
        self.asked: list[Callable[[], None]] = []
        """Actions of keys typed while the page was read, that need its examples."""

    @property
    def feature(self) -> int:
        return self.order[self.position]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="feature-stats")
        yield ActivationHistogram(id="feature-hist")
        yield ExampleLines(LABEL_WIDTH, id="feature-examples")
        yield KeyFooter()

    def on_mount(self) -> None:
        # Fixed: a changing title would cost a layout pass (a frame) on every page.
        self.sub_title = f"SAE {self.data.sae_id}" + (f" · word {self.word}" if self.word else "")
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
        self.query_one(ExampleLines).wait()
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
        self.query_one(ActivationHistogram).show(page.histogram)
        self.query_one(ExampleLines).show(
            example_rows(page.found, page.ids, self.word, page.attributions),
            "This feature never fires on the stored tokens.",
        )
        self.after_reading()

    def show_stats(self, stats: Text, noted: bool) -> None:
        # Without a note the statistics have the same lines on every page: skip the layout.
        self.query_one("#feature-stats", Static).update(stats, layout=noted or self.noted)
        self.noted = noted

    def cannot_read(self, exc: SaferError) -> None:
        self.show_stats(*self.pending)
        self.pairs = []
        self.query_one(ActivationHistogram).show(None)
        self.query_one(ExampleLines).show([], f"{exc.message} {exc.hint}")
        show_error(self, exc)
        self.after_reading()

    def after_reading(self) -> None:
        """What keys typed while the page was read asked of it (p: its pairs)."""
        asked, self.asked = self.asked, []
        for action in asked:
            action()

    def on_resize(self) -> None:
        if self.app.size.width != self.width:
            self.noted = True  # lay out the statistics again: their lines may change
            self.show()

    def action_step(self, delta: int) -> None:
        self.position = (self.position + delta) % len(self.order)
        self.show()

    def action_scroll(self, lines: int) -> None:
        self.query_one(ExampleLines).scroll_lines(lines)

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
        """The Pairs screen, shading this feature, at the highlighted example's pair (once
        the examples are read, when p was typed before)."""
        if self.reading.running:
            self.asked.append(self.action_pairs)
            return
        self.post_message(OpenPairs(self.feature, self.current_pair(), shade_feature=True))

    def action_back(self) -> None:
        self.dismiss(self.feature)

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.app.BINDINGS, FEATURE_NOTES)
        self.app.push_screen(HelpScreen("Feature", rows))
