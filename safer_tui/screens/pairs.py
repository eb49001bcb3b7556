"""Pairs ranked by the pair score of the safety features (the same selection as `safer
score-pairs`: tags, else judge scores, else salience), both responses side by side under the
pair's prompt, every token shaded by those features (green safe, red unsafe) or by one
feature's activation (`h` switches).

Scores saved for the same selection are reused; otherwise scoring is a pass over every stored
code (seconds on a large store), so it runs in a thread worker with a progress bar; leaving
the screen cancels it through a `CancelToken`. Coming back from a feature page where tags
changed rescores, on the same pair. The list sorts by score, slice or pair, filters by slice
and split, and searches the pairs' texts (read once, in a worker).
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Static

from safer_engine.errors import SaferError
from safer_engine.service.explorer import OLD_TEXT, Explorer
from safer_engine.service.pair_list import PairQuery
from safer_engine.service.pairs import PairRanking, PairView
from safer_tui.background import Background
from safer_tui.errors import error_text, show_error
from safer_tui.feature_columns import cut
from safer_tui.navigation import OpenFeature
from safer_tui.pair_drivers import drivers_text
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import PAIRS_NOTES, help_rows
from safer_tui.screens.pair_listing import PairListing
from safer_tui.shading import mark_search, shade
from safer_tui.widgets.key_footer import KeyFooter
from safer_tui.widgets.progress_line import ProgressLine
from safer_tui.widgets.prompt_view import PromptView

SALIENCE_ONLY = (
    "{why}: scored by the top {n} features by |{by}| alone, which nobody has called "
    "safety features. Tag some safe (t) or unsafe (u)."
)
NOTHING_JUDGED = "Nothing is tagged or judged yet"
JUDGED_LOW = (
    "Nothing is tagged, and none of the {judged} judged features scored {threshold} or more"
)
ZERO_SCORES = (
    "Every pair scores 0: the tagged features never fire on the selected tokens (the "
    "sentence ends that scores and salience use). Tag features with a clear salience."
)
WIDE = 100  # columns from which five strongest features are listed, not three
SEARCH_SHOWN = 16  # characters of a search shown in the status line


class PairsScreen(PairListing):
    BINDINGS = [  # the footer shows the first ones that fit
        Binding("escape,backspace", "back", "Back", tooltip="back (stops scoring)"),
        Binding("s", "sort", "Sort", tooltip="sort by score (highest first), slice, pair"),
        Binding(
            "f",
            "slice",
            "Slice",
            tooltip="only one slice (again: the next; after `safer attribute`, then the test "
            "pairs the reward model orders wrong, most wrong first; then all)",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            tooltip="search the prompts and responses (any case) or a pair id; Enter on "
            "nothing clears",
        ),
        Binding("g", "strongest", "Strongest", tooltip="open the pair's strongest feature"),
        Binding(
            "h",
            "toggle_shading",
            "Shading",
            tooltip="shade by the safety features, or by one feature: the one picked in the "
            "list, else the pair's strongest",
        ),
        Binding("F", "split", "Split", tooltip="only one split (again: the next; then all)"),
        Binding("o", "toggle_prompt", "Prompt", tooltip="whole prompt / its last lines"),
        Binding("S", "reverse", "Reverse", show=False, tooltip="reverse the sort"),
        Binding("j", "move(1)", "Next", show=False, tooltip="next pair (↓ too)"),
        Binding("k", "move(-1)", "Prev", show=False, tooltip="previous pair (↑ too)"),
        # priority: the table's own Home and End scroll sideways
        Binding("home,less_than_sign", "jump(0)", "First", show=False, priority=True),
        Binding("end,greater_than_sign", "jump(-1)", "Last", show=False, priority=True),
        Binding("J", "scroll_sides(1)", "Scroll", show=False, tooltip="scroll both responses"),
        Binding("K", "scroll_sides(-1)", "Scroll up", show=False, tooltip="scroll them up"),
        Binding("f1,question_mark", "help", "Help", tooltip="this help"),
    ]

    def __init__(
        self,
        data: Explorer,
        feature: int | None = None,
        pair: int | None = None,
        shade_feature: bool = False,
    ) -> None:
        """`feature`: the one `h` shades by; `pair`: the pair to show first (a feature
        example's); `shade_feature`: start shading by `feature` (from its page)."""
        super().__init__()
        self.data = data
        self.feature = feature
        self.goto = pair
        self.listing = PairQuery()
        self.matches: np.ndarray | None = None
        """The search's result: a bool per pair."""
        self.order = np.zeros(0, dtype=np.int64)
        """The pairs listed, top to bottom."""
        # P and N come with the scores; until then, and with nothing tagged, shading by
        # the tagged features would be blank: start with one feature's. From a feature's
        # page, that feature's shading is what was asked for.
        self.safe: list[int] = []
        self.unsafe: list[int] = []
        self.by_feature = (shade_feature and feature is not None) or not any(
            label.human_tag for label in data.labels().values()
        )
        self.prompt_expanded = False
        # leaving the screen cancels it: nobody is waiting for the scores then
        self.scoring: Background[PairRanking] = Background(
            self, "pair-scores", self.scored, self.scoring_failed
        )
        self.ranking: PairRanking | None = None
        self.scored_at_change: tuple[int, int] | None = None
        self.pair: int | None = None
        self.strongest: list[tuple[int, float]] = []
        self.original = True  # the store holds the data's own texts (else: a hint says so)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="pairs-status")
        yield ProgressLine()
        yield Static(id="pairs-notice")
        yield DataTable(id="pairs", cursor_type="row", zebra_stripes=True)
        yield Static(id="pair-info")
        yield Static(id="pair-features")
        yield Static(id="pair-drivers")
        with VerticalScroll(id="pair-prompt-scroll"):
            yield PromptView(id="pair-prompt")
        with Horizontal(id="pair-sides"):
            yield VerticalScroll(Static(id="chosen-text"), id="chosen-side")
            yield VerticalScroll(Static(id="rejected-text"), id="rejected-side")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_columns(flipped=False)
        self.query_one("#chosen-side").border_title = "chosen"
        self.query_one("#rejected-side").border_title = "rejected"
        self.query_one("#pairs-notice").display = False
        self.query_one(DataTable).focus()
        self.rescore()

    def on_screen_resume(self) -> None:
        """Back from a feature page (`g`) where tags may have changed: rescore if they (or
        the judge's scores) did, staying on the pair shown."""
        if self.ranking is not None and self.data.last_label_change() != self.scored_at_change:
            self.goto = self.pair
            self.rescore()

    # -- scoring, off the UI thread ----------------------------------------------------

    def rescore(self) -> None:
        self.sub_title = "scoring pairs…"
        self.show_status("scoring pairs…")
        line = self.query_one(ProgressLine)
        line.start("scoring pairs")
        self.scored_at_change = self.data.last_label_change()
        self.scoring.start(self.data.rank_pairs, line)

    def scored(self, ranking: PairRanking) -> None:
        self.ranking = ranking
        self.safe, self.unsafe = ranking.selection.safe, ranking.selection.unsafe
        source = ranking.selection.source
        self.sub_title = (
            f"{len(self.safe)} safe and {len(self.unsafe)} unsafe features from {source}"
        )
        self.fill(ranking)

    def scoring_failed(self, error: SaferError) -> None:
        text = error_text(error)
        show_error(self, error)
        self.query_one("#pairs-status", Static).update(Text(f"Could not score pairs: {text}"))

    def listed(self, ranking: PairRanking) -> None:
        """Under a new list: why its scores may mean little, and the status."""
        notice = self.query_one("#pairs-notice", Static)
        if ranking.selection.by_salience_alone:
            notice.update(self.salience_only(ranking))
        elif not ranking.scores.any():
            # Scores use only the selected tokens (sentence ends by default), as salience does.
            notice.update(ZERO_SCORES)
        notice.display = ranking.selection.by_salience_alone or not ranking.scores.any()
        self.show_status()

    def salience_only(self, ranking: PairRanking) -> str:
        """Why salience alone chose the features: nothing tagged, and nothing judged or
        nothing judged as high as the judge's threshold."""
        judged = sum(1 for j in self.data.judgements().values() if j.score is not None)
        threshold = ranking.selection.config.get("judge_threshold", 5)
        why = JUDGED_LOW.format(judged=judged, threshold=threshold) if judged else NOTHING_JUDGED
        by = ranking.selection.source
        return SALIENCE_ONLY.format(why=why, n=len(ranking.selection.features), by=by)

    def show_none(self) -> None:
        """No pair matches the filters and search: say so where the pair would be."""
        self.pair, self.strongest = None, []
        self.query_one("#pair-info", Static).update(
            Text("No pair matches: f / F change the filters, / then Enter clears the search.")
        )
        self.query_one("#pair-features", Static).update("")
        self.query_one(PromptView).show([], self.prompt_expanded)
        for name in ("chosen", "rejected"):
            self.query_one(f"#{name}-text", Static).update("")
            self.query_one(f"#{name}-side").border_title = name
        self.query_one("#pair-drivers").display = False

    def show_drivers(self, pair: int, listed: int) -> None:
        """The features that move the pair's margin, when attributions exist."""
        line = self.query_one("#pair-drivers", Static)
        drivers = self.data.pair_drivers(pair)
        line.display = drivers is not None
        if drivers is not None:
            line.update(drivers_text(drivers, self.data.attribution_trust(), listed))

    def action_back(self) -> None:
        self.scoring.cancel()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        # Also on quit: a worker left running would hold the process open until it ends.
        self.scoring.cancel()

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
        status = Text(doing)
        if self.ranking is not None:
            total = len(self.ranking.scores)
            listed = len(self.order)
            if doing:
                status.append(" · ")
            status.append(f"{total:,} pairs" if listed == total else f"{listed:,} of {total:,}")
            query = self.listing
            arrow = "↓" if query.descending else "↑"
            for name, value in (
                ("sort", "most wrong first" if query.wrong else f"{query.sort} {arrow}"),
                ("only", "test pairs ordered wrong" if query.wrong else ""),
                ("slice", query.slice),
                ("split", query.split),
                ("search", cut(query.search, SEARCH_SHOWN)),
            ):
                if value:  # user text: never parsed as markup
                    status.append(f" · {name} ").append(value, style="bold")
        status.append(" · shading by ").append(mode, style="bold").append(" (h)")
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
        self.query_one(PromptView).show(view.prompt, self.prompt_expanded, self.listing.search)
        self.shade_sides((view.chosen_doc, view.rejected_doc))
        self.original = view.original
        self.show_status()

    def show_info(self, view: PairView) -> None:
        ranking = self.ranking
        assert ranking is not None  # rows exist only once scored
        pair = view.pair
        # the id first, as every screen shows it: on a narrow terminal the end is cut
        self.query_one("#pair-info", Static).update(
            Text.assemble(
                ("pair ", "bold"),
                (view.pair_id, "bold"),
                " · score ",
                (f"{ranking.scores[pair]:+.3f}", "bold"),
                f" · {ranking.slice_of(pair)} · {ranking.split_of(pair)}",
                (" · flipped by the benchmark", "bold red") if ranking.was_flipped(pair) else "",
            )
        )
        for side, s_value in (("chosen", ranking.s_chosen), ("rejected", ranking.s_rejected)):
            self.query_one(f"#{side}-side").border_title = f"{side} · S = {s_value[pair]:+.3f}"
        # three of each under 100 columns, so the line takes two lines at most
        n = 5 if self.app.size.width >= WIDE else 3
        listed = ", ".join(f"{f} {v:+.0f}" for f, v in self.strongest[:n]) or "none"
        parts = ", ".join(f"{f} {share:+.0%}" for f, share in ranking.contributors(pair)[:n])
        self.query_one("#pair-features", Static).update(
            f"Strongest (chosen − rejected): {listed} · score mostly from: "
            f"{parts or 'no selected feature'}"
        )
        self.show_drivers(pair, n)

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
            text = mark_search(shade(spans, peak, self.by_feature), self.listing.search)
            self.query_one(f"#{name}-text", Static).update(text)
            panel = self.query_one(f"#{name}-side", VerticalScroll)
            unread = any(s.part == "stop" for s in spans)
            panel.border_subtitle = "✂ the model read no further" if unread else ""
            panel.scroll_home(animate=False)

    # -- keys ------------------------------------------------------------------------------

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
        prompt.show(prompt.spans, self.prompt_expanded, prompt.search)

    def action_scroll_sides(self, direction: int) -> None:
        """Both responses, half a panel at a time: long responses go on past the screen."""
        for name in ("chosen", "rejected"):
            panel = self.query_one(f"#{name}-side", VerticalScroll)
            step = max(1, panel.scrollable_content_region.height // 2)
            panel.scroll_relative(y=direction * step, animate=False)

    def action_strongest(self) -> None:
        """The pair's strongest features on a feature page; tags made there rescore the pairs
        when it is left."""
        if self.ranking is None:
            self.typed.append(self.action_strongest)
        elif self.strongest:
            self.post_message(OpenFeature([f for f, _ in self.strongest], 0))

    def action_help(self) -> None:
        rows = help_rows(self.BINDINGS, self.app.BINDINGS, PAIRS_NOTES)
        self.app.push_screen(HelpScreen("Pairs", rows))
