"""All SAE features, ranked by |salience|, with single-key tagging.

Rows are keyed by feature id. Sorting and filtering rebuild the table from the polars
feature table; tagging writes through the labels store and updates only the touched cells.
"""

from __future__ import annotations

import polars as pl
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from safer_engine.errors import SaferError
from safer_tui.screens.feature import FeatureScreen
from safer_tui.screens.help import HelpScreen
from safer_tui.workspace_data import WorkspaceData

SORTS = (
    ("|salience|", pl.col("abs_salience"), True),
    ("density", pl.col("density"), True),
    ("max", pl.col("max_act"), True),
    ("mean act Δ", pl.col("mean_act_diff").abs(), True),
    ("feature", pl.col("feature"), False),
)
FILTERS = (
    "all",
    "untagged",
    "safe",
    "unsafe",
    "irrelevant",
    "unsure",
    "leans safe",
    "leans unsafe",
)
TAG_KEYS = {"t": "safe", "u": "unsafe", "i": "irrelevant", "m": "unsure", "x": ""}
# Fits 80 columns with the table's cell padding; notes are cut, the Note dialog shows all.
COLUMNS = (
    ("feature", 7),
    ("salience", 8),
    ("mean Δ", 7),
    ("rate Δ", 7),
    ("density", 7),
    ("max", 5),
    ("tag", 10),
    ("note", 10),
)
HELP_KEYS = [
    ("j / k", "move down / up (arrows too)"),
    ("Enter", "open the feature: shaded examples, histogram"),
    ("t u i m", "tag safe / unsafe / irrelevant / unsure"),
    ("x", "clear the tag"),
    ("space", "mark a row; tags apply to all marked"),
    ("n", "edit the note"),
    ("s", "cycle sort: |salience|, density, max, Δ, id"),
    ("f", "cycle filter: all, untagged, tag, sign"),
    ("/", "search feature ids and notes"),
    ("p", "pairs ranked by score from the tags"),
    ("Ctrl+P", "commands: pairs, export, sorts, filters"),
    ("F1 / ?", "this help"),
    ("q", "quit"),
    ("", ""),
    ("tags", "what the feature is about: safe = safe"),
    ("", "behaviour (e.g. refusals), unsafe = harm"),
]


class NoteScreen(ModalScreen[str | None]):
    """Edit one feature's note; Enter saves, Escape cancels."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, feature: int, note: str) -> None:
        super().__init__()
        self.feature = feature
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Static(f"Note for feature {self.feature} (Enter saves, Esc cancels)")
            yield Input(value=self.note, id="note-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class SearchScreen(ModalScreen[str | None]):
    """`/`: show only features whose id or note matches; an empty search shows all."""

    BINDINGS = [("escape", "dismiss(None)", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Static("Search feature ids and notes (Enter applies, empty clears)")
            yield Input(value=self.current, id="search-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())


class FeaturesScreen(Screen[None]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("t", "tag('t')", "Safe"),
        Binding("u", "tag('u')", "Unsafe"),
        Binding("i", "tag('i')", "Irrelevant"),
        Binding("m", "tag('m')", "Unsure"),
        Binding("x", "tag('x')", "Clear", show=False),
        Binding("space", "mark", "Mark", show=False),
        Binding("n", "note", "Note"),
        Binding("s", "sort", "Sort"),
        Binding("f", "filter", "Filter"),
        Binding("slash", "search", "Search"),
        Binding("p", "pairs", "Pairs"),
        Binding("f1,question_mark", "help", "Help"),
    ]

    def __init__(self, data: WorkspaceData) -> None:
        super().__init__()
        self.data = data
        self.labels = data.current_labels()
        self.sort_index = 0
        self.filter_index = 0
        self.marked: set[int] = set()
        self.search = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="features-status")
        yield DataTable(id="features", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name, width in COLUMNS:
            table.add_column(name, width=width, key=name)
        self.refill()
        table.focus()

    # -- what is shown -----------------------------------------------------------------

    def shown_features(self) -> pl.DataFrame:
        """The feature table after the current filter and sort."""
        frame = self.data.features
        name = FILTERS[self.filter_index]
        if name == "leans safe":
            frame = frame.filter(pl.col("salience") > 0)
        elif name == "leans unsafe":
            frame = frame.filter(pl.col("salience") < 0)
        elif name != "all":
            tagged = {f: label.tag or "" for f, label in self.labels.items()}
            wanted = "" if name == "untagged" else name
            frame = frame.filter(
                pl.col("feature").map_elements(
                    lambda f: tagged.get(f, "") == wanted, return_dtype=pl.Boolean
                )
            )
        if self.search:
            frame = frame.filter(pl.col("feature").is_in(self.matching(frame)))
        _, key, descending = SORTS[self.sort_index]
        return frame.sort(key, descending=descending, maintain_order=True)

    def matching(self, frame: pl.DataFrame) -> list[int]:
        """Features whose id equals the search or whose note contains it (any case)."""
        needle = self.search.lower()
        notes = {f: (label.note or "").lower() for f, label in self.labels.items()}
        return [
            f for f in frame["feature"].to_list() if str(f) == needle or needle in notes.get(f, "")
        ]

    def refill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        view = self.shown_features()
        for row in view.iter_rows(named=True):
            table.add_row(*self.cells(row), key=str(row["feature"]))
        self.sub_title = f"SAE {self.data.sae_id}"
        # A line of its own: the title is cut at 80 columns, and this must stay readable.
        self.query_one("#features-status", Static).update(
            f"{view.height:,} of {self.data.features.height:,} · sort "
            f"[b]{SORTS[self.sort_index][0]}[/b] · filter [b]{FILTERS[self.filter_index]}[/b]"
            + (f" · search [b]{self.search}[/b]" if self.search else "")
            + (" · [red]labels read-only[/red]" if self.data.read_only else "")
        )

    def cells(self, row: dict[str, object]) -> list[str]:
        feature = int(row["feature"])  # type: ignore[call-overload]
        label = self.labels.get(feature)
        mark = "● " if feature in self.marked else ""
        return [
            f"{mark}{feature}",
            f"{row['salience']:+.3f}",
            f"{row['mean_act_diff']:+.3f}",
            f"{row['firing_rate_diff']:+.3f}",
            f"{row['density']:.4f}",
            f"{row['max_act']:.1f}",
            (label.tag or "") if label else "",
            (label.note or "") if label else "",
        ]

    def current_feature(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(str(row_key.value))

    def redraw(self, features: list[int]) -> None:
        table = self.query_one(DataTable)
        rows = self.data.features.filter(pl.col("feature").is_in(features))
        for row in rows.iter_rows(named=True):
            key = str(row["feature"])
            if key in table.rows:
                for (name, _), value in zip(COLUMNS, self.cells(row), strict=True):
                    table.update_cell(key, name, value)

    # -- actions -----------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        """Back from a feature page or the pairs: show tags made there."""
        fresh = self.data.current_labels()
        changed = [f for f in set(fresh) | set(self.labels) if fresh.get(f) != self.labels.get(f)]
        self.labels = fresh
        if changed:
            self.redraw(changed)

    def store_ready(self) -> bool:
        """Open the store for examples, or say which step is missing."""
        try:
            self.data.examples  # noqa: B018  # cached_property: opens it once
        except SaferError as exc:
            self.notify(f"{exc.message}\n{exc.hint}", severity="error", timeout=8)
            return False
        return True

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        order = [int(str(key.value)) for key in self.query_one(DataTable).rows]
        if not self.store_ready():
            return
        self.app.push_screen(FeatureScreen(self.data, order, event.cursor_row))

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_tag(self, key: str) -> None:
        targets = sorted(self.marked) or [f for f in [self.current_feature()] if f is not None]
        if not targets:
            return
        try:
            self.data.tag(targets, TAG_KEYS[key])
        except SaferError as exc:
            self.notify(f"{exc.message}\n{exc.hint}", severity="error", timeout=8)
            return
        self.labels = self.data.current_labels()
        self.marked.clear()
        self.redraw(targets)
        tag = TAG_KEYS[key] or "no tag"
        self.notify(f"{len(targets)} feature(s): {tag}", timeout=2)
        if len(targets) == 1:
            self.action_cursor_down()

    def action_mark(self) -> None:
        feature = self.current_feature()
        if feature is None:
            return
        self.marked.symmetric_difference_update({feature})
        self.redraw([feature])

    def action_note(self) -> None:
        feature = self.current_feature()
        if feature is None:
            return
        label = self.labels.get(feature)

        def save(text: str | None) -> None:
            if text is None:
                return
            try:
                self.data.note(feature, text)
            except SaferError as exc:
                self.notify(f"{exc.message}\n{exc.hint}", severity="error", timeout=8)
                return
            self.labels = self.data.current_labels()
            self.redraw([feature])

        self.app.push_screen(NoteScreen(feature, (label.note or "") if label else ""), save)

    def action_sort(self) -> None:
        self.set_sort((self.sort_index + 1) % len(SORTS))

    def action_filter(self) -> None:
        self.set_filter((self.filter_index + 1) % len(FILTERS))

    def set_sort(self, index: int) -> None:
        self.sort_index = index
        self.refill()

    def set_filter(self, index: int) -> None:
        self.filter_index = index
        self.refill()

    def export_tags(self) -> None:
        target = self.data.workspace.root / f"labels-{self.data.sae_id}.csv"
        try:
            count = self.data.labels.export_csv(self.data.sae_id, target)
        except (SaferError, OSError) as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.notify(f"Exported {count} labelled feature(s) to {target}", timeout=6)

    def action_pairs(self) -> None:
        from safer_tui.screens.pairs import PairsScreen

        if not self.store_ready():
            return
        self.app.push_screen(PairsScreen(self.data))

    def action_search(self) -> None:
        def apply(text: str | None) -> None:
            if text is not None:
                self.search = text
                self.refill()

        self.app.push_screen(SearchScreen(self.search), apply)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Features", HELP_KEYS))
