"""All SAE features, ranked by |salience|, with single-key tagging.

The rows live in a `FeatureView` (numpy index arrays) drawn by the virtual `FeatureTable`;
tagging writes through the labels store, then only the view's order is recomputed. Tags
made by another explorer on the same workspace show within a couple of seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Static

from safer_engine.analysis.word_search import WordMatches
from safer_engine.errors import Cancelled, SaferError
from safer_engine.progress import CancelToken
from safer_engine.service.explorer import Explorer
from safer_tui.errors import show_error
from safer_tui.feature_view import COLUMNS, FILTERS, FeatureView
from safer_tui.screens.feature_page import FeatureScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.widgets.feature_table import FeatureTable
from safer_tui.widgets.progress_line import ProgressLine, reporter

TAG_KEYS = {"t": "safe", "u": "unsafe", "i": "irrelevant", "m": "unsure", "x": ""}
POLL_SECONDS = 2.0  # how soon another explorer's tags show
HELP_KEYS = [
    ("j / k", "move down / up (arrows too)"),
    ("Enter", "open the feature: shaded examples, histogram"),
    ("t u i m", "tag safe / unsafe / irrelevant / unsure"),
    ("x", "clear the tag"),
    ("space", "mark a row; tags apply to all marked"),
    ("n", "edit the note"),
    ("g / G", "first / last row (Home / End, PgUp / PgDn)"),
    ("s / S", "sort by the next column / reverse the order"),
    ("", "(or click a column's header)"),
    ("f / F", "next / previous filter: all, untagged,"),
    ("", "each tag, leans safe / unsafe, marked"),
    ("/", 'search: feature ids ("12 40") or note text'),
    ("w", "features that fire on a word (sorry, apolog*),"),
    ("", "ranked by lift; Esc cancels, then shows all"),
    ("p", "pairs ranked by score from the tags"),
    ("e", "edit the training data: plan, export, retrain"),
    ("r", "runs: accuracy, edited vs clean, experiment"),
    ("Ctrl+P", "commands: pairs, export, sorts, filters"),
    ("F1 / ?", "this help"),
    ("q", "quit"),
    ("", ""),
    ("tags", "what the feature is about: safe = safe"),
    ("", "behaviour (e.g. refusals), unsafe = harm"),
    ("stats", "salience, chosen and rejected (firing rates)"),
    ("", "cover the selected tokens (sentence ends by"),
    ("", "default, as the status line says); all ch,"),
    ("", "all rej (120+ columns): rates on all tokens"),
]


class LineScreen(ModalScreen[str | None]):
    """One line of input over the list; Enter submits it, Escape cancels."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, prompt: str, value: str, input_id: str) -> None:
        super().__init__()
        self.prompt, self.value, self.input_id = prompt, value, input_id

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Static(self.prompt)
            yield Input(value=self.value, id=self.input_id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self.submitted(event.value))

    def submitted(self, value: str) -> str:
        return value


class NoteScreen(LineScreen):
    """Edit one feature's note (kept as typed, spaces included)."""

    def __init__(self, feature: int, note: str) -> None:
        prompt = f"Note for feature {feature} (Enter saves, Esc cancels)"
        super().__init__(prompt, note, "note-input")
        self.feature, self.note = feature, note


class SearchScreen(LineScreen):
    """`/` searches ids and notes, `w` features on a word."""

    def __init__(self, prompt: str, current: str) -> None:
        super().__init__(
            f"{prompt} · Enter applies, empty clears, Esc cancels", current, "search-input"
        )

    def submitted(self, value: str) -> str:
        return value.strip()


class FeaturesScreen(Screen[None]):
    BINDINGS = [
        Binding("t", "tag('t')", "Safe"),
        Binding("u", "tag('u')", "Unsafe"),
        Binding("i", "tag('i')", "Irrelevant", show=False),
        Binding("m", "tag('m')", "Unsure", show=False),
        Binding("x", "tag('x')", "Clear", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("n", "note", "Note", show=False),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("f", "filter(1)", "Filter"),
        Binding("F", "filter(-1)", "Previous filter", show=False),
        Binding("slash", "search", "Search"),
        Binding("w", "word", "Word"),
        Binding("escape", "escape", "Cancel", show=False),
        Binding("p", "pairs", "Pairs"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(self, data: Explorer) -> None:
        super().__init__()
        self.data = data
        self.view = FeatureView(data.features, data.labels(), data.coverage.has_all)
        self.seen_change = data.last_label_change()
        self.word_cancel = CancelToken()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="features-status")
        yield FeatureTable(self.view, id="features")
        yield ProgressLine()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"SAE {self.data.sae_id}"
        self.show_status()
        self.table.focus()
        self.set_interval(POLL_SECONDS, self.poll_labels)

    @property
    def table(self) -> FeatureTable:
        return self.query_one(FeatureTable)

    def show_status(self) -> None:
        # A line of its own: the title is cut at 80 columns, and this must stay readable.
        view = self.view
        arrow = "↓" if view.descending else "↑"
        parts: list[tuple[str, str]] = [
            ("sort", f"{view.sort_column.name} {arrow}"),
            ("filter", view.filter),
            ("search", view.search),
            ("word", view.word),
        ]
        status = Text(f"{len(view):,} of {view.total:,}")
        for name, value in parts:
            if value:  # user text: never parsed as markup
                status.append(f" · {name} ").append(value, style="bold")
        if view.marked:
            status.append(f" · {len(view.marked)} marked")
        if self.data.read_only:
            status.append(" · labels read-only", style="red")
        # Last: cut first on a narrow terminal, where the sort and filter matter more.
        if self.data.coverage.known:
            status.append(f" · stats on {self.data.coverage.selected_text()}", style="dim")
        # One line of fixed height: no layout pass, so the table's frame is the only one.
        self.query_one("#features-status", Static).update(status, layout=False)

    def changed(self, keep: int | None = None) -> None:
        """After the view's rows changed: redraw, keeping the cursor on `keep` if shown."""
        self.view.update()
        position = self.view.position_of(keep) if keep is not None else None
        if position is not None:
            self.table.cursor = position
        self.table.reset()
        self.show_status()

    def current_feature(self) -> int | None:
        return self.view.feature_at(self.table.cursor) if len(self.view) else None

    # -- labels --------------------------------------------------------------------------

    def reload_labels(self, keep: int | None) -> None:
        self.seen_change = self.data.last_label_change()
        self.view.set_labels(self.data.labels())
        self.changed(keep)

    def poll_labels(self) -> None:
        """Show tags written by another explorer (or the CLI) on this workspace."""
        try:
            if self.data.last_label_change() != self.seen_change:
                self.reload_labels(self.current_feature())
        except SaferError:
            pass  # a busy database is retried at the next poll; tagging reports errors

    def on_screen_resume(self) -> None:
        """Back from a feature page or the pairs: show tags made there."""
        self.reload_labels(self.current_feature())

    def write(self, change: Callable[[], object]) -> bool:
        """Run a labels change, or say why it failed; nothing else is touched on failure."""
        try:
            change()
        except SaferError as exc:
            show_error(self, exc)
            return False
        return True

    def action_tag(self, key: str) -> None:
        targets = sorted(self.view.marked) or [f for f in [self.current_feature()] if f is not None]
        if not targets or not self.write(lambda: self.data.tag(targets, TAG_KEYS[key])):
            return
        # After a single tag, move on to the row below, wherever the re-sort puts it.
        below = self.table.cursor + 1
        keep = self.view.feature_at(below) if len(targets) == 1 and below < len(self.view) else None
        self.view.marked.clear()
        self.reload_labels(keep if keep is not None else self.current_feature())
        self.notify(f"{len(targets)} feature(s): {TAG_KEYS[key] or 'no tag'}", timeout=2)

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
        if feature is None:
            return
        label = self.view.labels.get(feature)

        def save(text: str | None) -> None:
            if text is not None and self.write(lambda: self.data.note(feature, text)):
                self.reload_labels(feature)

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
        self.set_filter(FILTERS[(FILTERS.index(self.view.filter) + step) % len(FILTERS)])

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

    @work(thread=True, exclusive=True, group="word-search")
    def search_word(self, word: str) -> None:
        """One pass over all codes: seconds on a large store, so off the UI thread."""
        self.word_cancel.cancel()  # a search still running is superseded
        self.word_cancel = cancel = CancelToken()
        line = self.query_one(ProgressLine)
        self.app.call_from_thread(line.start, f"features on {word!r}")
        try:
            found = self.data.word_search(word, reporter(line), cancel)
        except Cancelled:
            return
        except SaferError as exc:
            self.app.call_from_thread(show_error, self, exc)
            return
        finally:
            self.app.call_from_thread(line.finish)
        self.app.call_from_thread(self.show_word, found)

    def show_word(self, found: WordMatches) -> None:
        if not found.hits:
            self.notify(f"No stored token is {found.query!r}.", severity="warning", timeout=6)
            return
        self.view.set_word(found.query, found.features, found.lift)
        self.table.cursor = 0
        self.changed()
        pieces = ", ".join(repr(p.strip()) for p in found.pieces[:4])
        self.notify(
            f"{len(found.features)} features fire more on {pieces} ({found.hits:,} tokens)"
            " than elsewhere. Esc shows all features again.",
            timeout=6,
        )

    def end_word(self) -> None:
        self.view.end_word()
        self.changed(self.current_feature())

    def action_escape(self) -> None:
        """Cancel a running word search, else leave the word search's results."""
        if self.query_one(ProgressLine).busy:
            self.word_cancel.cancel()
        elif self.view.word:
            self.end_word()

    # -- other screens -------------------------------------------------------------------

    def on_feature_table_selected(self, event: FeatureTable.Selected) -> None:
        order = self.view.shown_features()
        self.app.push_screen(FeatureScreen(self.data, order, event.position))

    def action_pairs(self) -> None:
        from safer_tui.screens.pairs import PairsScreen

        self.app.push_screen(PairsScreen(self.data, self.current_feature()))

    def export_tags(self) -> None:
        try:
            target, count = self.data.export_labels()
        except SaferError as exc:
            show_error(self, exc)
            return
        self.notify(f"Exported {count} labelled feature(s) to {target}", timeout=6)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Features", HELP_KEYS))
