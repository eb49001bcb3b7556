"""Which pairs the Pairs screen lists, in which order: its sort, its slice and split
filters, and the search of the pairs' texts (read once, in a worker)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from textual.screen import Screen

from safer_engine.errors import SaferError
from safer_engine.service.explorer import Explorer
from safer_engine.service.pair_list import PAIR_SORTS, PairQuery, choices, default_descending
from safer_engine.service.pairs import PairRanking
from safer_tui.background import Background
from safer_tui.errors import show_error
from safer_tui.screens.dialogs import SearchScreen


class PairListing(Screen[None]):
    """The listing half of the Pairs screen: it keeps the query and asks `fill` to list
    again whenever the query changes."""

    data: Explorer
    listing: PairQuery
    ranking: PairRanking | None
    matches: np.ndarray | None
    """The search's result: a bool per pair."""
    pair: int | None

    def __init__(self) -> None:
        super().__init__()
        self.searching: Background[tuple[str, np.ndarray]] = Background(
            self, "pair-search", self.searched, self.search_failed
        )

    def fill(self, ranking: PairRanking) -> None:
        raise NotImplementedError  # the screen lists the pairs

    def show_status(self, doing: str = "") -> None:
        raise NotImplementedError  # the screen draws its status line

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
        if self.ranking is not None:
            self.requery(slice=next_choice(choices(self.ranking.slices), self.listing.slice))

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


def next_choice(names: list[str], current: str) -> str:
    """The filter after `current` in "" (all), then each name, then "" again."""
    cycle = ["", *names]
    return cycle[(cycle.index(current) + 1) % len(cycle)] if current in cycle else ""
