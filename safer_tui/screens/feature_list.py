"""All SAE features, ranked by |salience|, with single-key tagging and the LLM judge's
scores beside the tags.

The rows live in a `FeatureView` (numpy index arrays) drawn by the virtual `FeatureTable`;
tagging writes through the labels store, then only the view's order is recomputed. Tags and
judgements made by another explorer (or the CLI) on the same workspace show within a couple
of seconds. The judge runs from here in a thread worker (`J`); every answer is stored as it
arrives, so the judge column fills in while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header

from safer_engine.analysis.word_search import WordMatches
from safer_engine.errors import SaferError
from safer_engine.service.explorer import Explorer
from safer_tui.background import Background
from safer_tui.errors import show_error
from safer_tui.feature_columns import COLUMNS
from safer_tui.feature_view import FeatureView, status_text
from safer_tui.navigation import OpenFeature, OpenPairs
from safer_tui.screens.dialogs import LineScreen, NoteScreen, SearchScreen
from safer_tui.screens.feature_judging import FeatureJudging
from safer_tui.screens.help import HelpScreen
from safer_tui.screens.help_keys import FEATURES_NOTES, help_rows
from safer_tui.widgets.feature_table import FeatureTable
from safer_tui.widgets.key_footer import KeyFooter
from safer_tui.widgets.progress_line import ProgressLine
from safer_tui.widgets.status_line import StatusLine

__all__ = ["FeaturesScreen", "LineScreen", "NoteScreen", "SearchScreen"]

TAG_KEYS = {"t": "safe", "u": "unsafe", "i": "irrelevant", "m": "unsure", "x": ""}
POLL_SECONDS = 2.0  # how soon another explorer's tags show
SAY_SECONDS = 5.0  # how long a message stays in the status line


class FeaturesScreen(FeatureJudging):
    BINDINGS = [
        Binding("t", "tag('t')", "Safe", tooltip="tag safe"),
        Binding("u", "tag('u')", "Unsafe", tooltip="tag unsafe"),
        Binding("i", "tag('i')", "Irrelevant", show=False, tooltip="tag irrelevant"),
        Binding("m", "tag('m')", "Unsure", show=False, tooltip="tag unsure"),
        Binding("x", "tag('x')", "Clear", show=False, tooltip="clear the tag"),
        Binding(
            "space",
            "mark",
            "Mark",
            show=False,
            tooltip="mark a row; the next tag (or judge run) applies to all marked rows",
        ),
        Binding(
            "n",
            "note",
            "Note",
            show=False,
            tooltip="edit the note (not offered when the labels are read-only)",
        ),
        Binding("s", "sort", "Sort", tooltip="sort by the next column (or click a header)"),
        Binding("S", "reverse", "Reverse", show=False, tooltip="reverse the order"),
        Binding(
            "f",
            "filter(1)",
            "Filter",
            tooltip="next filter: firing (features that never fire hidden), untagged, each "
            "tag, leans safe / unsafe, effect + / − (after `safer attribute`), marked, all",
        ),
        Binding("F", "filter(-1)", "Previous filter", show=False, tooltip="previous filter"),
        Binding(
            "slash",
            "search",
            "Search",
            tooltip='search: feature ids ("12 40") or note text; Enter on nothing clears',
        ),
        Binding(
            "w",
            "word",
            "Word",
            tooltip="features that fire on a word (sorry, apolog*), ranked by lift",
        ),
        Binding(
            "escape",
            "escape",
            "Cancel",
            show=False,
            tooltip="cancel a word search, else stop the judge, else show all again",
        ),
        Binding("p", "pairs", "Pairs", tooltip="pairs ranked by score from the tags"),
        Binding(
            "J",
            "judge",
            "Judge",
            tooltip="ask an LLM judge about the marked or top N features (openai or local)",
        ),
        Binding(
            "z",
            "undo",
            "Undo",
            show=False,
            tooltip="undo the last tag change of this session (again: the one before); the "
            "status line says what the features are back to",
        ),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        Binding("f1", "help", "Help", show=False, tooltip="this help"),
    ]

    def __init__(self, data: Explorer) -> None:
        super().__init__()
        self.data = data
        self.view = FeatureView(
            data.features, data.labels(), data.coverage.has_all, data.judgements(), data.fits()
        )
        self.seen_change = self.label_state()
        # one pass over all codes: seconds on a large store
        self.word_search: Background[WordMatches] = Background(self, "word-search", self.show_word)
        # calls to a server or a local model: seconds to minutes; answers are stored one by
        # one and the list's poll shows them as they come
        self.back_at: int | None = None
        """The feature the page opened from here showed last: the list comes back to it."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusLine(id="features-status")
        yield FeatureTable(self.view, id="features")
        yield ProgressLine(id="word-progress")
        yield ProgressLine(id="judge-progress")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = f"SAE {self.data.sae_id}"
        self.show_status()
        self.table.focus()
        self.set_interval(POLL_SECONDS, self.poll_labels)

    @property
    def table(self) -> FeatureTable:
        return self.query_one(FeatureTable)

    def say(self, text: str | Text, seconds: float = SAY_SECONDS) -> None:
        """A short message at the head of the status line for a few seconds: what a key
        did, without a notification over the table."""
        self.query_one(StatusLine).say(text, seconds)

    def show_status(self) -> None:
        self.query_one(StatusLine).show(status_text(self.view, self.data))

    def changed(self, keep: int | None = None, by_key: bool = True) -> None:
        """After the view's rows changed: redraw, keeping the cursor on `keep` if shown. A
        key's change (a sort, a filter) ends the last key's message, which no longer holds."""
        if by_key:
            self.query_one(StatusLine).unsay()
        self.view.update()
        position = self.view.position_of(keep) if keep is not None else None
        if position is not None:
            self.table.cursor = position
        self.table.reset()
        self.show_status()

    def current_feature(self) -> int | None:
        return self.view.feature_at(self.table.cursor) if len(self.view) else None

    # -- labels --------------------------------------------------------------------------

    def label_state(self) -> tuple[tuple[int, int], int]:
        """What changes when anyone tags, judges or scores a fit (cheap to poll)."""
        return self.data.last_label_change(), self.data.last_fit_change()

    def reload_labels(self, keep: int | None) -> None:
        self.seen_change = self.label_state()
        self.view.set_judgements(self.data.judgements())
        self.view.set_fits(self.data.fits())
        self.view.set_labels(self.data.labels())
        self.changed(keep, by_key=False)

    def poll_labels(self) -> None:
        """Show tags and judgements written by another explorer, the CLI or a judge run."""
        try:
            if self.label_state() != self.seen_change:
                self.reload_labels(self.current_feature())
        except SaferError:
            pass  # a busy database is retried at the next poll; tagging reports errors

    def on_screen_resume(self) -> None:
        """Back from a feature page or the pairs: show tags made there, on the feature the
        page was showing (`[` and `]` step through this list's order)."""
        keep = self.back_at if self.back_at is not None else self.current_feature()
        self.back_at = None
        self.reload_labels(keep)

    def write(self, change: Callable[[], object]) -> bool:
        """Run a labels change, or say why it failed; nothing else is touched on failure."""
        try:
            change()
        except SaferError as exc:
            show_error(self, exc)
            return False
        return True

    def read_only(self, what: str) -> bool:
        """Say so, when the labels file cannot be written (browsing works all the same)."""
        if self.data.read_only:
            self.say(Text(f"Labels are read-only here: {what} cannot be saved.", style="red"))
        return self.data.read_only

    def action_tag(self, key: str) -> None:
        targets = sorted(self.view.marked) or [f for f in [self.current_feature()] if f is not None]
        if not targets or self.read_only("tags"):
            return
        if not self.write(lambda: self.data.tag(targets, TAG_KEYS[key])):
            return
        # After a single tag, move on to the row below, wherever the re-sort puts it.
        below = self.table.cursor + 1
        keep = self.view.feature_at(below) if len(targets) == 1 and below < len(self.view) else None
        self.view.marked.clear()
        self.reload_labels(keep if keep is not None else self.current_feature())
        what = f"feature {targets[0]}" if len(targets) == 1 else f"{len(targets)} features"
        moved = " · on to the next row" if keep is not None else ""
        self.say(
            Text.assemble((f"{what}: {TAG_KEYS[key] or 'no tag'}", "bold"), moved, " · z undoes")
        )

    def action_undo(self) -> None:
        if self.read_only("tags"):
            return
        try:
            change = self.data.undo_tag()
        except SaferError as exc:
            show_error(self, exc)
            return
        if change is None:
            self.say("Nothing to undo: no tag was changed in this session.")
            return
        self.reload_labels(change.features[0])
        self.say(Text.assemble(("undone", "bold"), f": {change.describe_undo()}"))

    def action_mark(self) -> None:
        feature = self.current_feature()
        if feature is None:
            return
        self.view.marked.symmetric_difference_update({feature})
        self.table.refresh()
        self.show_status()
        self.table.action_move(1)

    def action_note(self) -> None:
        feature = self.current_feature()
        if feature is None or self.read_only("notes"):
            return
        label = self.view.labels.get(feature)

        def save(text: str | None) -> None:
            if text is not None and self.write(lambda: self.data.note(feature, text)):
                self.reload_labels(feature)
                self.say(f"Note {'saved on' if text else 'cleared from'} feature {feature}.")

        self.app.push_screen(NoteScreen(feature, (label.note or "") if label else ""), save)

    # -- sort, filter, search ------------------------------------------------------------

    def action_sort(self) -> None:
        shown = self.table.columns()
        index = shown.index(self.view.sort_column) if self.view.sort_column in shown else -1
        self.set_sort(shown[(index + 1) % len(shown)].name)

    def action_reverse(self) -> None:
        self.view.descending = not self.view.descending
        self.to_top()

    def set_sort(self, name: str) -> None:
        self.view.sort_by(next(c for c in COLUMNS if c.name == name))
        self.to_top()

    def to_top(self) -> None:
        """A new order starts at its top: staying on the old row would hide the leaders."""
        self.table.cursor = 0
        self.changed()

    def on_feature_table_header_clicked(self, event: FeatureTable.HeaderClicked) -> None:
        if event.column is self.view.sort_column:
            self.action_reverse()
        else:
            self.set_sort(event.column.name)

    def action_filter(self, step: int) -> None:
        filters = self.view.filters
        self.set_filter(filters[(filters.index(self.view.filter) + step) % len(filters)])

    def set_filter(self, name: str) -> None:
        self.view.filter = name
        self.changed(self.current_feature())

    def action_search(self) -> None:
        def apply(text: str | None) -> None:
            if text is not None:
                self.view.search = text
                self.changed(self.current_feature())

        prompt = 'Feature ids ("12 40") or note text'
        self.app.push_screen(SearchScreen(prompt, self.view.search), apply)

    def action_word(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            if not text:
                self.end_word()
            else:
                self.search_word(text)

        prompt = "Features that fire on a word (sorry, apolog* for prefixes)"
        self.app.push_screen(SearchScreen(prompt, self.view.word), apply)

    def search_word(self, word: str) -> None:
        line = self.query_one("#word-progress", ProgressLine)
        line.start(f"features on {word!r}")
        # a search still running is superseded
        self.word_search.start(partial(self.data.word_search, word), line)

    def show_word(self, found: WordMatches) -> None:
        if not found.hits:
            self.say(Text(f"No stored token is {found.query!r}.", style="yellow"))
            return
        self.view.set_word(found.query, found.features, found.lift)
        self.table.cursor = 0
        self.changed()
        # " i", "i" and "I" are three tokens but one word on screen: each shown once
        pieces = ", ".join(repr(p) for p in dict.fromkeys(p.strip() for p in found.pieces[:8]))
        self.say(
            f"{len(found.features)} fire more on {pieces} ({found.hits:,} tokens) · Esc: all",
            seconds=2 * SAY_SECONDS,
        )

    def end_word(self) -> None:
        self.view.end_word()
        self.changed(self.current_feature())

    def action_escape(self) -> None:
        """Cancel a running word search, else stop a judge run, else leave the word
        search's results."""
        if self.word_search.running:
            self.word_search.cancel()
        elif self.judging.running:
            self.judging.cancel()
            self.say("Stopping the judge; every finished judgement is kept.")
        elif self.view.word:
            self.end_word()

    def on_unmount(self) -> None:
        # On quit: a worker left running would hold the process open until it ends.
        self.word_search.cancel()
        self.judging.cancel()

    # -- other screens -------------------------------------------------------------------

    def on_feature_table_selected(self, event: FeatureTable.Selected) -> None:
        order = self.view.shown_features()
        self.post_message(OpenFeature(order, event.position, self.page_left, self.view.word))

    def page_left(self, feature: int | None) -> None:
        """The page opened from here was left on `feature`: the list shows it (now, or when
        it is shown again, whichever comes last)."""
        self.back_at = feature
        if self.is_current:
            self.on_screen_resume()

    def action_pairs(self) -> None:
        self.post_message(OpenPairs(self.current_feature()))

    def export_tags(self) -> None:
        try:
            target, count = self.data.export_labels()
        except SaferError as exc:
            show_error(self, exc)
            return
        self.say(f"Exported {count} labelled feature(s) to {target}", 2 * SAY_SECONDS)

    def action_help(self) -> None:
        keys = [*FeatureTable.BINDINGS, *self.BINDINGS]
        self.app.push_screen(
            HelpScreen("Features", help_rows(keys, self.app.BINDINGS, FEATURES_NOTES))
        )
