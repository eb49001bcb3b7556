"""Which pairs the Pairs screen lists, in which order, and how: its sort, its slice and split
filters, the search of the pairs' texts (read once, in a worker), and the table of the pairs
listed, each with the start of its text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from rich.text import Text
from textual.screen import Screen
from textual.widgets import DataTable

from safer_engine.errors import SaferError
from safer_engine.service.explorer import Explorer
from safer_engine.service.pair_list import (
    PAIR_SORTS,
    PairQuery,
    choices,
    default_descending,
    pair_order,
)
from safer_engine.service.pairs import PairRanking
from safer_engine.service.text import START
from safer_tui.background import Background
from safer_tui.errors import show_error
from safer_tui.pair_drivers import WRONG
from safer_tui.screens.dialogs import SearchScreen
from safer_tui.shading import BAR, cut_at_word, mark_search

COLUMNS = (("pair", 16), ("score", 8), ("slice", 9), ("split", 6))
FLIPPED = ("flipped", 7)
GIVE_WAY = ("split", "slice")
"""Left out in this order where the text would be narrower than `TEXT_WIDTH`: the pair's
line under the list shows both."""
TEXT_WIDTH = 16
EDGES = 4  # the table's scrollbar and the text column's padding
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BREAKS = re.compile(r"\s*\n\s*")


class PairListing(Screen[None]):
    """The listing half of the Pairs screen: it keeps the query and lists the pairs again
    whenever the query changes; the screen shows the pair under the cursor."""

    data: Explorer
    listing: PairQuery
    ranking: PairRanking | None
    matches: np.ndarray | None
    """The search's result: a bool per pair."""
    pair: int | None
    goto: int | None
    """The pair to show at the next listing (a feature example's, or one stayed on)."""
    order: np.ndarray
    """The pairs listed, top to bottom."""

    def __init__(self) -> None:
        super().__init__()
        self.searching: Background[tuple[str, np.ndarray]] = Background(
            self, "pair-search", self.searched, self.search_failed
        )
        self.texts: dict[int, tuple[str, str]] = {}
        """Each listed pair's prompt and chosen response, read once, each on one line."""
        self.previews: dict[int, str] = {}
        """Each listed pair's text as its column shows it, at the column's width."""
        self.listed_width = 0
        """The terminal width the table's columns were laid out for."""
        self.text_width = TEXT_WIDTH
        self.typed: list[Callable[[], None]] = []
        """Keys typed before the pairs were scored that move along the list: they move
        along it once it is there."""

    def show_status(self, doing: str = "") -> None:
        raise NotImplementedError  # the screen draws its status line

    def show_none(self) -> None:
        raise NotImplementedError  # the screen says so where the pair would be

    def listed(self, ranking: PairRanking) -> None:
        """The list is new: the screen's notices and status follow it."""
        raise NotImplementedError

    # -- the table -------------------------------------------------------------------------

    def columns(self, flipped: bool) -> list[tuple[str, int]]:
        """The columns that fit this terminal, the text taking what is left."""
        width = self.app.size.width
        shown = [*COLUMNS, *([FLIPPED] if flipped else [])]
        for name in GIVE_WAY:
            if width - sum(w + 2 for _, w in shown) - EDGES >= TEXT_WIDTH:
                break
            shown = [column for column in shown if column[0] != name]
        text = max(TEXT_WIDTH, width - sum(w + 2 for _, w in shown) - EDGES)
        return [*shown, ("text", text)]

    def set_columns(self, flipped: bool) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for name, width in self.columns(flipped):
            table.add_column(name, width=width, key=name)
        self.listed_width = self.app.size.width
        if width != self.text_width:
            self.previews.clear()
        self.text_width = width

    def fill(self, ranking: PairRanking) -> None:
        """List the pairs the sort, filters and search pick, staying on the pair shown (or
        going to the one asked for)."""
        asked = self.goto
        wanted = asked if asked is not None else self.pair
        self.goto = None
        mistakes = self.data.mistakes() if self.listing.wrong else None
        self.order = pair_order(ranking, self.listing, self.matches, mistakes=mistakes)
        if asked is not None and asked not in self.order and self.goto_listed(ranking, asked):
            return  # filled again with the pair asked for listed
        self.set_columns(ranking.flipped is not None)
        table = self.query_one(DataTable)
        listed = self.order.tolist()
        self.read_texts(listed)
        keys = [str(key.value) for key in table.columns]
        for pair in listed:
            cells: dict[str, str | Text] = {
                "pair": ranking.id_of(pair),
                "score": f"{ranking.scores[pair]:+.3f}",
                "slice": ranking.slice_of(pair),
                "split": ranking.split_of(pair),
                # a noise benchmark's workspace: the pairs it flipped on purpose
                "flipped": "✗" if ranking.was_flipped(pair) else "",
                "text": self.preview(pair),
            }
            table.add_row(*(cells[key] for key in keys), key=str(pair))
        hits = np.flatnonzero(self.order == wanted) if wanted is not None else np.zeros(0)
        if len(hits):
            table.move_cursor(row=int(hits[0]), scroll=True)
        elif not listed:
            self.show_none()
        self.listed(ranking)
        typed, self.typed = self.typed, []
        for action in typed:
            action()

    def read_texts(self, pairs: list[int]) -> None:
        missing = [pair for pair in pairs if pair not in self.texts]
        if not missing:
            return
        try:
            found = self.data.pair_texts(missing)
        except SaferError as exc:
            show_error(self, exc)
            found = [("", "")] * len(missing)
        for pair, (prompt, chosen) in zip(missing, found, strict=True):
            self.texts[pair] = (one_line(prompt), one_line(chosen))

    def preview(self, pair: int) -> Text:
        """The start of the pair's prompt and chosen response on one line of the text
        column, a bar between them as in a feature's examples, the search's matches
        marked."""
        prompt, chosen = self.texts[pair]
        marker = f" {START}" if prompt and chosen else ""
        if pair not in self.previews:
            self.previews[pair] = cut_at_word(prompt + marker + chosen, self.text_width)
        text = Text(self.previews[pair])
        if marker and len(text) > len(prompt):
            text.stylize(BAR, len(prompt), len(prompt) + len(marker))
        return mark_search(text, self.listing.search)

    def on_resize(self) -> None:
        if self.ranking is not None and self.app.size.width != self.listed_width:
            self.fill(self.ranking)

    def goto_listed(self, ranking: PairRanking, pair: int) -> bool:
        """Make a pair the list would leave out (filtered, or past the rows listed) the only
        one listed, through a search for its id; False when that is not possible."""
        if self.listing.search == self.data.reader().pair_id(pair):
            return False
        self.listing = PairQuery(search=self.data.reader().pair_id(pair))
        self.matches = np.arange(len(ranking.scores)) == pair
        self.goto = pair
        self.fill(ranking)
        return True

    # -- keys --------------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        if self.ranking is None:
            self.typed.append(lambda: self.action_move(delta))
            return
        table = self.query_one(DataTable)
        (table.action_cursor_down if delta > 0 else table.action_cursor_up)()

    def action_jump(self, row: int) -> None:
        if self.ranking is None:
            self.typed.append(lambda: self.action_jump(row))
            return
        table = self.query_one(DataTable)
        if table.row_count:
            table.move_cursor(row=row if row >= 0 else table.row_count - 1, scroll=True)

    def requery(self, **changes: object) -> None:
        """A new sort or filter: list again, staying on the pair shown when it is still
        listed (a new sort starts at its top)."""
        self.listing = replace(self.listing, **changes)  # type: ignore[arg-type]
        if self.ranking is not None:
            self.fill(self.ranking)

    def action_sort(self) -> None:
        sort = PAIR_SORTS[(PAIR_SORTS.index(self.listing.sort) + 1) % len(PAIR_SORTS)]
        self.pair = None  # a new order starts at its top
        self.requery(sort=sort, descending=default_descending(sort))

    def action_reverse(self) -> None:
        self.pair = None
        self.requery(descending=not self.listing.descending)

    def action_slice(self) -> None:
        """The next slice; after the slices, with attributions, the test pairs the reward
        model orders wrong (most wrong first); then all again."""
        if self.ranking is None:
            return
        names = choices(self.ranking.slices)
        if self.data.attributions.exists:
            names.append(WRONG)
        now = WRONG if self.listing.wrong else self.listing.slice
        chosen = next_choice(names, now)
        if chosen == WRONG or self.listing.wrong:
            self.pair = None  # another order: start at its top
        self.requery(slice="" if chosen == WRONG else chosen, wrong=chosen == WRONG)

    def action_split(self) -> None:
        if self.ranking is not None:
            self.requery(split=next_choice(choices(self.ranking.splits), self.listing.split))

    def action_search(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            if not text:
                self.matches = None
                self.requery(search="")
                return
            self.show_status(f"searching for {text!r}…")
            # the first search reads every pair's texts: off the UI thread
            self.searching.start(lambda progress, cancel: (text, self.data.pair_matches(text)))

        prompt = "Pairs whose prompt or a response has this text (any case), or a pair id"
        self.app.push_screen(SearchScreen(prompt, self.listing.search), apply)

    def searched(self, found: tuple[str, np.ndarray]) -> None:
        text, self.matches = found
        self.requery(search=text)

    def search_failed(self, error: SaferError) -> None:
        show_error(self, error)
        self.show_status()


def one_line(text: str) -> str:
    """The text on one line: each line break (with the spaces around it) a ⏎, other runs of
    spaces one space."""
    return _SPACES.sub(" ", _BREAKS.sub("⏎", text.strip()))


def next_choice(names: list[str], current: str) -> str:
    """The filter after `current` in "" (all), then each name, then "" again."""
    cycle = ["", *names]
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else ""
