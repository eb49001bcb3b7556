"""Pairs ranked by safety score from the tagged features, both responses side by side under
the pair's prompt, every token shaded by all tagged features (green safe, red unsafe) or by
one feature's activation (`h` switches).

Scoring is a pass over every stored code (seconds on a large store), so it runs in a thread
worker with a progress bar; leaving the screen cancels it through a `CancelToken`.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from safer_engine.errors import Cancelled, SaferError
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.explorer import OLD_TEXT, Explorer
from safer_engine.service.pairs import PairRanking, PairView
from safer_engine.service.text import Span
from safer_tui.errors import error_text, show_error
from safer_tui.screens.feature_page import BAR, MARK, SHADE, UNSEEN, shade_style
from safer_tui.screens.help import HelpScreen
from safer_tui.widgets.progress_line import ProgressLine, reporter

SAFE_RGB, UNSAFE_RGB = (0, 170, 80), (200, 40, 40)
ZERO_SCORES = (
    "Every pair scores 0: the tagged features never fire on the selected tokens (the "
    "sentence ends that scores and salience use). Tag features with a clear salience."
)
PROMPT_LINES = 3  # of the prompt shown until `o` shows all of it
HELP_KEYS = [  # descriptions fit the help box: 46 columns
    ("j / k", "next / previous pair (arrows too)"),
    ("h", "shade tokens by all tagged features (green"),
    ("", "safe, red unsafe) or by one feature: the one"),
    ("", "picked in the list, else the pair's strongest"),
    ("g", "open the pair's strongest feature"),
    ("o", "whole prompt / its first lines"),
    ("J / K", "scroll both responses down / up"),
    ("✂", "the model read nothing before (prompt) or"),
    ("", "after (response) this mark: a prompt keeps"),
    ("", "its last tokens, a response is cut at the"),
    ("", "model's max_length; unread text is dim"),
    ("Esc", "back (stops scoring)"),
    ("F1 / ?", "this help"),
    ("", ""),
    ("score", "S(chosen) − S(rejected); S(r): mean over the"),
    ("", "response's selected tokens of the activations"),
    ("", "of safe-tagged minus unsafe-tagged features"),
]


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


def prompt_text(spans: list[Span], expanded: bool) -> Text:
    """The prompt in italics, the part the model never read dim before ✂; its line breaks
    as ⏎ while it is cut to a few lines, real ones when it is shown whole."""
    text = Text.assemble(("prompt ", "bold"))
    for span in spans:
        if span.part == "stop":
            text.append(span.text, style=MARK)
        elif span.part in ("cut", "start"):
            text.append(span.text, style=BAR)
        else:
            body = span.text if expanded else span.text.replace("\n", "⏎ ")
            text.append(body, style=UNSEEN if span.part == "unseen" else Style(italic=True))
    return text


class PromptView(Static):
    """The pair's prompt: its first lines with an ellipsis where it is cut, or all of it."""

    spans: list[Span] = []
    expanded = False

    def show(self, spans: list[Span], expanded: bool) -> None:
        self.spans, self.expanded = spans, expanded
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        text = prompt_text(self.spans, self.expanded)
        width = self.size.width
        if self.expanded or width <= 1:
            return text
        lines = text.wrap(self.app.console, width)
        if len(lines) <= PROMPT_LINES:
            return text
        shown = lines[:PROMPT_LINES]
        shown[-1].truncate(width - 1)
        shown[-1].rstrip()
        shown[-1].append("…", style=Style(bold=True))
        return Text("\n").join(shown)


class PairsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        Binding("j", "move(1)", "Next", show=False),
        Binding("k", "move(-1)", "Prev", show=False),
        Binding("h", "toggle_shading", "Shading"),
        Binding("g", "strongest", "Strongest"),
        Binding("o", "toggle_prompt", "Prompt"),
        Binding("J", "scroll_sides(1)", "Scroll", show=False),
        Binding("K", "scroll_sides(-1)", "Scroll up", show=False),
        Binding("f1,question_mark", "help", "Help"),
    ]

    class Scored(Message):
        def __init__(self, ranking: PairRanking) -> None:
            super().__init__()
            self.ranking = ranking

    class ScoringFailed(Message):
        def __init__(self, error: SaferError) -> None:
            super().__init__()
            self.error = error

    def __init__(self, data: Explorer, feature: int | None = None) -> None:
        super().__init__()
        self.data = data
        self.feature = feature
        labels = data.labels()
        self.safe = sorted(f for f, label in labels.items() if label.tag == "safe")
        self.unsafe = sorted(f for f, label in labels.items() if label.tag == "unsafe")
        # With nothing tagged, tagged shading would be blank: start with one feature's.
        self.by_feature = not (self.safe or self.unsafe)
        self.prompt_expanded = False
        self.cancel = CancelToken()
        self.ranking: PairRanking | None = None
        self.pair: int | None = None
        self.strongest: list[tuple[int, float]] = []
        self.original = True  # the store holds the data's own texts (else: a hint says so)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="pairs-status")
        yield ProgressLine()
        if not (self.safe or self.unsafe):
            yield Static(
                "No features are tagged yet, so every pair scores 0 and the list is in data "
                "order. Tag features safe (t) or unsafe (u) on the Features screen.",
                id="pairs-notice",
            )
        yield DataTable(id="pairs", cursor_type="row", zebra_stripes=True)
        yield Static(id="pair-info")
        yield Static(id="pair-features")
        with VerticalScroll(id="pair-prompt-scroll"):
            yield PromptView(id="pair-prompt")
        with Horizontal(id="pair-sides"):
            yield VerticalScroll(Static(id="chosen-text"), id="chosen-side")
            yield VerticalScroll(Static(id="rejected-text"), id="rejected-side")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name, width in (("pair", 6), ("score", 8), ("slice", 9), ("split", 6)):
            table.add_column(name, width=width, key=name)
        self.query_one("#chosen-side").border_title = "chosen"
        self.query_one("#rejected-side").border_title = "rejected"
        self.sub_title = f"{len(self.safe)} safe and {len(self.unsafe)} unsafe tagged features"
        self.show_status("scoring pairs…")
        line = self.query_one(ProgressLine)
        line.start("scoring pairs")
        table.focus()
        self.score_pairs(reporter(line))

    # -- scoring, off the UI thread ----------------------------------------------------

    @work(thread=True, exclusive=True, group="pair-scores")
    def score_pairs(self, progress: Progress) -> None:
        try:
            ranking = self.data.rank_pairs(self.safe, self.unsafe, progress, self.cancel)
        except Cancelled:
            return  # the screen was left: nobody is waiting for the scores
        except SaferError as exc:
            self.post_message(self.ScoringFailed(exc))
            return
        self.post_message(self.Scored(ranking))

    def on_pairs_screen_scored(self, message: Scored) -> None:
        self.ranking = message.ranking
        self.query_one(ProgressLine).finish()
        self.fill(message.ranking)

    def on_pairs_screen_scoring_failed(self, message: ScoringFailed) -> None:
        self.query_one(ProgressLine).finish()
        text = error_text(message.error)
        show_error(self, message.error)
        self.query_one("#pairs-status", Static).update(Text(f"Could not score pairs: {text}"))

    def fill(self, ranking: PairRanking) -> None:
        table = self.query_one(DataTable)
        for pair in ranking.order.tolist():
            table.add_row(
                str(pair),
                f"{ranking.scores[pair]:+.3f}",
                ranking.slice_of(pair),
                ranking.split_of(pair),
                key=str(pair),
            )
        if (self.safe or self.unsafe) and not ranking.scores.any():
            # Scores use only the selected tokens (sentence ends by default), as salience does.
            notice = Static(ZERO_SCORES, id="pairs-notice")
            self.mount(notice, before=table)
        self.show_status()

    def action_back(self) -> None:
        self.cancel.cancel()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        # Also on quit: a worker left running would hold the process open until it ends.
        self.cancel.cancel()

    # -- the highlighted pair ----------------------------------------------------------

    def shading_feature(self) -> int | None:
        """The one feature shaded by `h`: the one passed in, else the pair's strongest."""
        if self.feature is not None:
            return self.feature
        return self.strongest[0][0] if self.strongest else None

    def show_status(self, doing: str = "") -> None:
        if not self.by_feature:
            mode = "tagged features"
        elif (feature := self.shading_feature()) is None:
            mode = "one feature (none fires here)"
        else:
            mode = f"feature {feature}" + (", pair's strongest" if self.feature is None else "")
        count = f"{len(self.ranking.scores):,} pairs" if self.ranking else doing
        status = Text.assemble(count, " · shading by ", (mode, "bold"), " · h switches")
        if not self.original:
            status.append("\n" + OLD_TEXT, style="yellow")
        self.query_one("#pairs-status", Static).update(status)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_pair(int(event.row_key.value))

    def show_pair(self, pair: int) -> None:
        try:
            view = self.data.pair(pair)
        except SaferError as exc:
            show_error(self, exc)
            return
        self.pair = pair
        self.strongest = view.strongest
        self.show_info(view)
        self.query_one(PromptView).show(view.prompt, self.prompt_expanded)
        self.shade_sides((view.chosen_doc, view.rejected_doc))
        self.original = view.original
        self.show_status()

    def show_info(self, view: PairView) -> None:
        ranking = self.ranking
        assert ranking is not None  # rows exist only once scored
        pair = view.pair
        self.query_one("#pair-info", Static).update(
            Text.assemble(
                ("pair ", "bold"),
                (str(pair), "bold"),
                f" · {view.pair_id} · {ranking.slice_of(pair)} · {ranking.split_of(pair)} · score ",
                (f"{ranking.scores[pair]:+.3f}", "bold"),
            )
        )
        docs = (view.chosen_doc, view.rejected_doc)
        for side, doc in zip(("chosen", "rejected"), docs, strict=True):
            self.query_one(
                f"#{side}-side"
            ).border_title = f"{side} · S = {ranking.doc_scores[doc]:+.3f}"
        listed = ", ".join(f"{f} ({v:+.1f})" for f, v in self.strongest) or "none"
        self.query_one("#pair-features", Static).update(
            f"Strongest features (chosen − rejected): {listed}"
        )

    def shade_sides(self, docs: tuple[int, int]) -> None:
        if self.by_feature:
            feature = self.shading_feature()
            safe, unsafe = ([feature] if feature is not None else []), []
        else:
            safe, unsafe = self.safe, self.unsafe
        try:
            sides = [self.data.shading(doc, safe, unsafe) for doc in docs]
        except SaferError as exc:
            show_error(self, exc)
            return
        peak = max((abs(s.value) for side in sides for s in side), default=0.0)
        for name, spans in zip(("chosen", "rejected"), sides, strict=True):
            self.query_one(f"#{name}-text", Static).update(shade(spans, peak, self.by_feature))
            panel = self.query_one(f"#{name}-side", VerticalScroll)
            unread = any(s.part == "stop" for s in spans)
            panel.border_subtitle = "✂ the model read no further" if unread else ""
            panel.scroll_home(animate=False)

    # -- keys ------------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        table = self.query_one(DataTable)
        (table.action_cursor_down if delta > 0 else table.action_cursor_up)()

    def action_toggle_shading(self) -> None:
        self.by_feature = not self.by_feature
        if self.pair is not None:
            self.show_pair(self.pair)
        else:
            self.show_status("scoring pairs…")

    def action_toggle_prompt(self) -> None:
        self.prompt_expanded = not self.prompt_expanded
        self.query_one("#pair-prompt-scroll").set_class(self.prompt_expanded, "expanded")
        prompt = self.query_one(PromptView)
        prompt.show(prompt.spans, self.prompt_expanded)

    def action_scroll_sides(self, direction: int) -> None:
        """Both responses, half a panel at a time: long responses go on past the screen."""
        for name in ("chosen", "rejected"):
            panel = self.query_one(f"#{name}-side", VerticalScroll)
            step = max(1, panel.scrollable_content_region.height // 2)
            panel.scroll_relative(y=direction * step, animate=False)

    def action_strongest(self) -> None:
        from safer_tui.screens.feature_page import FeatureScreen

        if self.strongest:
            order = [f for f, _ in self.strongest]
            self.app.push_screen(FeatureScreen(self.data, order, 0))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Pairs", HELP_KEYS))
