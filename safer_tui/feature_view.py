"""The Features screen's rows: which features are shown, in which order.

The feature table is held as numpy columns; a view is an index array over them. Sorting,
filtering and searching rebuild only that array (microseconds for 16k features), and the
table widget formats just the rows on screen, so nothing here is proportional to the
terminal's work.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rich.text import Text

from safer_engine.labels import TAGS, Label
from safer_engine.service.explorer import Explorer
from safer_engine.service.judging import Fit, Judgement
from safer_tui.feature_columns import (
    COLUMNS,
    EFFECT,
    EFFECT_FILTERS,
    FILTERS,
    FIT,
    HIDES_SILENT,
    NUMERIC,
    SALIENCE,
    WORD_COLUMN,
    Column,
    cut,
    judge_cell,
)
from safer_tui.fit_view import fit_cell, fit_sort_key, fit_value

SEARCH_SHOWN = 16  # a search's characters in the status line: at 80 columns beside marks and a word


class FeatureView:
    """The feature table with the explorer's labels, and the rows currently shown."""

    def __init__(
        self,
        table: pl.DataFrame,
        labels: dict[int, Label],
        all_tokens: bool = True,
        judgements: dict[int, Judgement] | None = None,
        fits: dict[int, Fit] | None = None,
    ) -> None:
        """`all_tokens`: show the all-token firing rates (when the table has them and they
        differ from the selected ones)."""
        self.missing = {
            c.source
            for c in COLUMNS
            if c.optional and (c.source not in table.columns or not all_tokens)
        }
        self.values = {
            name: table[name].to_numpy() if name in table.columns else np.zeros(table.height)
            for name in NUMERIC
        }
        self.features = self.values["feature"].astype(np.int64)
        self.row_of = np.full(int(self.features.max(initial=-1)) + 1, -1, dtype=np.int64)
        self.row_of[self.features] = np.arange(len(self.features))
        # Ties in any sort fall back to |salience|, strongest first.
        self.base = np.argsort(-np.abs(self.values["salience"]), kind="stable")
        self.sort_column = SALIENCE
        self.descending = True
        self.filter = FILTERS[0]
        # Tables without density (none written today) show everything rather than nothing.
        self.fires = (
            self.values["density"] > 0
            if "density" in table.columns
            else np.ones(table.height, dtype=bool)
        )
        self.search = ""
        self.marked: set[int] = set()
        self.word = ""
        self.values["lift"] = np.zeros(self.total)
        self._orders: dict[tuple[str, bool], np.ndarray] = {}
        self.judgements: dict[int, Judgement] = {}
        self.judge = np.full(self.total, np.nan)
        """Each row's judge score; 0 for a failure, NaN when never judged."""
        self.set_judgements(judgements or {})
        self.fit = np.full(self.total, np.nan)
        """Each row's explanation fit; -1 for a failure, NaN when never scored."""
        self.set_fits(fits or {})
        self.set_labels(labels)

    @property
    def filters(self) -> tuple[str, ...]:
        """The filters `f` steps through: the effect ones only with attributions."""
        if "effect" in self.missing:
            return tuple(f for f in FILTERS if f not in EFFECT_FILTERS)
        return FILTERS

    @property
    def total(self) -> int:
        return len(self.features)

    def __len__(self) -> int:
        return len(self.order)

    def set_labels(self, labels: dict[int, Label]) -> None:
        self.labels = labels
        self.tag_rank = np.full(self.total, len(TAGS), dtype=np.int8)
        for feature, label in labels.items():
            row = self.row(feature)
            if row is not None and label.tag in TAGS:
                self.tag_rank[row] = TAGS.index(label.tag)
        self.update()

    def set_judgements(self, judgements: dict[int, Judgement]) -> None:
        """The judge's latest score (or failure) of each judged feature; call `update` (or
        `set_labels`) after it."""
        self.judgements = judgements
        self.judge = np.full(self.total, np.nan)
        for feature, judgement in judgements.items():
            row = self.row(feature)
            if row is not None:
                self.judge[row] = judgement.score if judgement.score is not None else 0

    def set_fits(self, fits: dict[int, Fit]) -> None:
        """Each judged feature's explanation fit; call `update` (or `set_labels`) after it."""
        self.fit = np.full(self.total, np.nan)
        for feature, fit in fits.items():
            row = self.row(feature)
            if row is not None:
                self.fit[row] = fit_value(fit)
        self.has_fits = not np.isnan(self.fit).all()

    def row(self, feature: int) -> int | None:
        """The feature's row in the table, or None if the SAE has no such feature."""
        if 0 <= feature < len(self.row_of) and self.row_of[feature] >= 0:
            return int(self.row_of[feature])
        return None

    def set_word(self, word: str, features: np.ndarray, lift: np.ndarray) -> None:
        """Show only the features found by a word search, highest lift first."""
        self.word = word
        self.values["lift"] = np.zeros(self.total)
        for feature, value in zip(features.tolist(), lift.tolist(), strict=True):
            row = self.row(feature)
            if row is not None:  # a feature this table lacks is skipped
                self.values["lift"][row] = value
        self.sort_by(WORD_COLUMN)

    def end_word(self) -> None:
        """Back to every feature, and to |salience| if the list was sorted by lift."""
        self.word = ""
        self.values["lift"] = np.zeros(self.total)
        if self.sort_column is WORD_COLUMN:
            self.sort_by(SALIENCE)
        else:
            self.update()

    def columns(self, width: int) -> list[Column]:
        """The columns to draw on a terminal this wide: the differences and the all-token
        rates only on wide terminals, lift only while a word search is shown and effect only
        with attributions (each takes the place of others there, so the note still gets its
        width)."""
        room = width - sum(c.width + 1 for c in self._extra_columns())
        return [
            c
            for c in COLUMNS
            if (not c.min_width or room >= c.min_width)
            and c.source not in self.missing
            and (c is not WORD_COLUMN or self.word)
            and (c is not FIT or self.has_fits)
        ]

    def _extra_columns(self) -> list[Column]:
        """The columns shown only at times, which narrow the room for the others."""
        return [
            c
            for c, shown in ((WORD_COLUMN, bool(self.word)), (EFFECT, "effect" not in self.missing))
            if shown
        ]

    def sort_by(self, column: Column, descending: bool | None = None) -> None:
        self.sort_column = column
        self.descending = column.descending if descending is None else descending
        self.update()

    def update(self) -> None:
        """Recompute the shown rows after any change of sort, filter, search or labels."""
        order = self._sorted()
        self.order = order[self._mask()[order]]

    def _sorted(self) -> np.ndarray:
        """All rows in the current sort; statistics orders are computed once and kept."""
        key = (self.sort_column.name, self.descending)
        if key in self._orders:
            return self._orders[key]
        order = self.base[np.argsort(self._sort_key()[self.base], kind="stable")]
        if self.sort_column.source in NUMERIC:
            self._orders[key] = order
        return order

    def _sort_key(self) -> np.ndarray:
        column = self.sort_column
        if column.source == "judge":
            # 5 to 1 (or 1 to 5), then failures, then features never judged, either way
            score = np.where(self.judge > 0, self.judge, np.nan)
            key = -score if self.descending else score
            return np.where(np.isnan(self.judge), 7.0, np.where(self.judge > 0, key, 6.0))
        if column.source == "fit":
            return fit_sort_key(self.fit, self.descending)
        if column.source == "tag":
            key = self.tag_rank.astype(np.float64)
        elif column.source == "note":
            key = self._note_rank()
        else:
            key = self.values[column.source].astype(np.float64)
            key = np.abs(key) if column.by_magnitude else key
        return -key if self.descending else key

    def _note_rank(self) -> np.ndarray:
        """Noted features alphabetically, then features without a note."""
        notes = sorted((label.note.lower(), f) for f, label in self.labels.items() if label.note)
        rank = np.full(self.total, len(notes), dtype=np.float64)
        for position, (_, feature) in enumerate(notes):
            row = self.row(feature)
            if row is not None:
                rank[row] = position
        return rank

    def _mask(self) -> np.ndarray:
        name = self.filter
        if name in ("all", "firing"):
            mask = np.ones(self.total, dtype=bool)
        elif name == "untagged":
            mask = self.tag_rank == len(TAGS)
        elif name in TAGS:
            mask = self.tag_rank == TAGS.index(name)
        elif name == "marked":
            mask = self._rows_mask(self.marked)
        elif name in EFFECT_FILTERS:
            effect = self.values["effect"]
            mask = effect > 0 if name == EFFECT_FILTERS[0] else effect < 0
        else:
            salience = self.values["salience"]
            mask = salience > 0 if name == "leans safe" else salience < 0
        if self._hides_silent():
            mask &= self.fires
        if self.search:
            mask &= self._search_mask()
        if self.word:
            mask &= self.values["lift"] > 0
        return mask

    def _hides_silent(self) -> bool:
        # a feature asked for by its id is shown all the same
        return self.filter in HIDES_SILENT and not self._search_ids()

    def _search_ids(self) -> set[int]:
        """The feature ids searched for (one, or several separated by commas or spaces)."""
        words = self.search.replace(",", " ").split()
        return {int(w) for w in words} if words and all(w.isdigit() for w in words) else set()

    def _search_mask(self) -> np.ndarray:
        """Feature ids, or text in a note."""
        ids = self._search_ids()
        if ids:
            return self._rows_mask(ids)
        needle = self.search.lower().strip()
        noted = {
            f for f, label in self.labels.items() if label.note and needle in label.note.lower()
        }
        return self._rows_mask(noted)

    def _rows_mask(self, features: set[int]) -> np.ndarray:
        mask = np.zeros(self.total, dtype=bool)
        rows = [r for r in map(self.row, features) if r is not None]
        mask[rows] = True
        return mask

    @property
    def silent_hidden(self) -> int:
        """How many never-firing features the filter hides."""
        return int((~self.fires).sum()) if self._hides_silent() else 0

    def feature_at(self, position: int) -> int:
        return int(self.features[self.order[position]])

    def position_of(self, feature: int) -> int | None:
        """Where the feature is in the shown rows, or None if it is filtered out."""
        row = self.row(feature)
        if row is None:
            return None
        hits = np.flatnonzero(self.order == row)
        return int(hits[0]) if len(hits) else None

    def shown_features(self) -> list[int]:
        return self.features[self.order].tolist()

    def cells(self, position: int) -> dict[str, str]:
        """The shown row's cells as text, by column name."""
        row = int(self.order[position])
        feature = int(self.features[row])
        value = {name: self.values[name][row] for name in NUMERIC}
        label = self.labels.get(feature)
        return {
            "feature": str(feature),
            "salience": f"{value['salience']:+.3f}",
            "effect": f"{value['effect']:+.4f}",
            "chosen": f"{value['fire_rate_chosen']:.3f}",
            "rejected": f"{value['fire_rate_rejected']:.3f}",
            "all ch": f"{value['fire_rate_chosen_all']:.3f}",
            "all rej": f"{value['fire_rate_rejected_all']:.3f}",
            "mean Δ": f"{value['mean_act_diff']:+.3f}",
            "rate Δ": f"{value['firing_rate_diff']:+.3f}",
            "density": f"{value['density']:.4f}",
            "max": f"{value['max_act']:.1f}",
            "judge": judge_cell(self.judge[row]),
            "fit": fit_cell(self.fit[row]),
            "tag": (label.tag or "") if label else "",
            "note": (label.note or "") if label else "",
            "lift": f"{self.values['lift'][row]:.2f}",
        }


def status_text(view: FeatureView, data: Explorer) -> list[Text]:
    """The Features screen's status line, as items in order of importance: a line of its
    own, since the title is cut at 80 columns. What a user set comes first (the count, marks,
    sort, filter, word, search; their search text cut, so a long one never hides the rest),
    then notes that stay true for the session (features that never fire, the tokens the
    statistics cover). The line leaves out whole items that do not fit."""
    arrow = "↓" if view.descending else "↑"
    column = view.sort_column
    sort = f"|{column.name}|" if column.by_magnitude else column.name  # what it sorts by
    items = [Text(f"{len(view):,} of {view.total:,}")]
    if view.marked:
        items.append(Text(f"{len(view.marked)} marked", style="bold"))
    for name, value in (
        ("sort", f"{sort} {arrow}"),
        ("filter", "" if view.filter == FILTERS[0] else view.filter),
        ("word", view.word),
        ("search", cut(view.search, SEARCH_SHOWN)),
    ):
        if value:  # user text: never parsed as markup
            items.append(Text(f"{name} ").append(value, style="bold"))
    if data.read_only:
        items.append(Text("labels read-only", style="red"))
    if view.silent_hidden:
        items.append(Text(f"{view.silent_hidden:,} never fire (F)", style="dim"))
    if data.coverage.known:
        items.append(Text(f"stats on {data.coverage.selected_text()}", style="dim"))
    return items
