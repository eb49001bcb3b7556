"""Pairs ranked by the pair score of the safety features (the same selection as `safer
score-pairs`: tags, else judge scores, else salience), both responses side by side under the
pair's prompt, every token shaded by those features (green safe, red unsafe) or by one
feature's activation (`h` switches).

Scores saved for the same selection are reused; otherwise scoring is a pass over every stored
code (seconds on a large store), so it runs in a thread worker with a progress bar; leaving
the screen cancels it through a `CancelToken`. Coming back from a feature page where tags
changed rescores.
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
from safer_engine.service.explorer import Explorer
from safer_engine.service.pairs import PairRanking, PairView
from safer_tui.errors import error_text, show_error
from safer_tui.screens.feature_page import SHADE, shade_style
from safer_tui.screens.help import HelpScreen
from safer_tui.widgets.progress_line import ProgressLine, reporter

SAFE_RGB, UNSAFE_RGB = (0, 170, 80), (200, 40, 40)
SALIENCE_ONLY = (
    "Nothing is tagged or judged yet: pairs are scored by the top {n} features by |salience| "
    "alone (the paper's candidate set), which nobody has called safety features. Tag "
    "features safe (t) or unsafe (u) on the Features screen."
)
ZERO_SCORES = (
    "Every pair scores 0: the tagged features never fire on the selected tokens (the "
    "sentence ends that scores and salience use). Tag features with a clear salience."
)
PROMPT_LINES = 3  # of the prompt shown until `o` shows all of it
HELP_KEYS = [  # descriptions fit the help box: 46 columns
    ("j / k", "next / previous pair (arrows too)"),
    ("h", "shade tokens by the safety features (green"),
    ("", "safe, red unsafe) or by one feature: the one"),
    ("", "picked in the list, else the pair's strongest"),
    ("g", "open the pair's strongest feature"),
    ("o", "whole prompt / its first lines"),
    ("Esc", "back (stops scoring)"),
    ("F1 / ?", "this help"),
    ("", ""),
    ("score", "S(chosen) − S(rejected); S(r): mean over the"),
    ("", "response's selected tokens of the activations"),
    ("", "of safe (P) minus unsafe (N) features: the"),
    ("", "tagged ones, else judged, else the top 32 by"),
    ("", "|salience| (as `safer score-pairs`)"),
]


def shade(pieces: list[tuple[str, float]], peak: float, by_feature: bool) -> Text:
    """Tokens on a background as strong as their value: one feature's activation in the
    Feature screen's colour, or the tagged sum in green (safe) / red (unsafe)."""
    text = Text()
    for piece, value in pieces:
        strength = min(1.0, abs(value) / peak) if peak > 0 else 0.0
        rgb = SHADE if by_feature else SAFE_RGB if value > 0 else UNSAFE_RGB
        text.append(piece.replace("\n", "⏎\n"), style=shade_style(rgb, strength))
    return text


class PromptView(Static):
    """The pair's prompt: its first lines with an ellipsis where it is cut, or all of it."""

    prompt = ""
    expanded = False

    def show(self, prompt: str, expanded: bool) -> None:
        self.prompt, self.expanded = prompt, expanded
        self.refresh(layout=True)

    def render(self) -> RenderableType:
        text = Text.assemble(("prompt ", "bold"), (self.prompt.replace("\n", "⏎ "), "italic"))
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
        # P and N come with the scores; until then, and with nothing tagged, shading by
        # the tagged features would be blank: start with one feature's.
        self.safe: list[int] = []
        self.unsafe: list[int] = []
        self.by_feature = not any(label.human_tag for label in data.labels().values())
        self.prompt_expanded = False
        self.cancel = CancelToken()
        self.ranking: PairRanking | None = None
        self.scored_at_change = -1
        self.pair: int | None = None
        self.strongest: list[tuple[int, float]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="pairs-status")
        yield ProgressLine()
        yield Static(id="pairs-notice")
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
        self.query_one("#pairs-notice").display = False
        table.focus()
        self.rescore()

    def on_screen_resume(self) -> None:
        """Back from a feature page where tags may have changed: rescore if they did."""
        if self.ranking is not None and self.data.last_label_change() != self.scored_at_change:
            self.rescore()

    # -- scoring, off the UI thread ----------------------------------------------------

    def rescore(self) -> None:
        self.sub_title = "scoring pairs…"
        self.show_status("scoring pairs…")
        line = self.query_one(ProgressLine)
        line.start("scoring pairs")
        self.scored_at_change = self.data.last_label_change()
        self.score_pairs(reporter(line))

    @work(thread=True, exclusive=True, group="pair-scores")
    def score_pairs(self, progress: Progress) -> None:
        try:
            ranking = self.data.rank_pairs(progress, self.cancel)
        except Cancelled:
            return  # the screen was left: nobody is waiting for the scores
        except SaferError as exc:
            self.post_message(self.ScoringFailed(exc))
            return
        self.post_message(self.Scored(ranking))

    def on_pairs_screen_scored(self, message: Scored) -> None:
        ranking = self.ranking = message.ranking
        self.safe, self.unsafe = ranking.selection.safe, ranking.selection.unsafe
        self.query_one(ProgressLine).finish()
        source = ranking.selection.source
        self.sub_title = (
            f"{len(self.safe)} safe and {len(self.unsafe)} unsafe features from {source}"
        )
        self.fill(ranking)

    def on_pairs_screen_scoring_failed(self, message: ScoringFailed) -> None:
        self.query_one(ProgressLine).finish()
        text = error_text(message.error)
        show_error(self, message.error)
        self.query_one("#pairs-status", Static).update(Text(f"Could not score pairs: {text}"))

    def fill(self, ranking: PairRanking) -> None:
        table = self.query_one(DataTable)
        table.clear()
        if ranking.flipped is not None and "flipped" not in table.columns:
            # a noise benchmark's workspace: mark the pairs it flipped on purpose
            table.add_column("flipped", width=7, key="flipped")
        for pair in ranking.order.tolist():
            marks = [] if ranking.flipped is None else ["✗" if ranking.flipped[pair] else ""]
            table.add_row(
                str(pair),
                f"{ranking.scores[pair]:+.3f}",
                ranking.slice_of(pair),
                ranking.split_of(pair),
                *marks,
                key=str(pair),
            )
        notice = self.query_one("#pairs-notice", Static)
        if ranking.selection.by_salience_alone:
            notice.update(SALIENCE_ONLY.format(n=len(ranking.selection.features)))
        elif not ranking.scores.any():
            # Scores use only the selected tokens (sentence ends by default), as salience does.
            notice.update(ZERO_SCORES)
        notice.display = ranking.selection.by_salience_alone or not ranking.scores.any()
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
            mode = "safety features"
        elif (feature := self.shading_feature()) is None:
            mode = "one feature (none fires here)"
        else:
            mode = f"feature {feature}" + (", pair's strongest" if self.feature is None else "")
        count = f"{len(self.ranking.scores):,} pairs" if self.ranking else doing
        self.query_one("#pairs-status", Static).update(
            Text.assemble(count, " · shading by ", (mode, "bold"), " · h switches")
        )

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
                (" · flipped by the benchmark", "bold red") if ranking.was_flipped(pair) else "",
            )
        )
        for side, s_value in (("chosen", ranking.s_chosen), ("rejected", ranking.s_rejected)):
            self.query_one(f"#{side}-side").border_title = f"{side} · S = {s_value[pair]:+.3f}"
        listed = ", ".join(f"{f} ({v:+.1f})" for f, v in self.strongest) or "none"
        parts = ", ".join(f"{f} ({share:+.0%})" for f, share in ranking.contributors(pair))
        self.query_one("#pair-features", Static).update(
            f"Strongest features (chosen − rejected): {listed} · score mostly from: "
            f"{parts or 'no selected feature'}"
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
        peak = max((abs(v) for side in sides for _, v in side), default=0.0)
        for name, pieces in zip(("chosen", "rejected"), sides, strict=True):
            self.query_one(f"#{name}-text", Static).update(shade(pieces, peak, self.by_feature))

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
        prompt.show(prompt.prompt, self.prompt_expanded)

    def action_strongest(self) -> None:
        from safer_tui.screens.feature_page import FeatureScreen

        if self.strongest:
            order = [f for f, _ in self.strongest]
            self.app.push_screen(FeatureScreen(self.data, order, 0))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Pairs", HELP_KEYS))
