"""Which pairs the Pairs screen lists, in which order: sorted by score, slice or pair, filtered
by slice and split, searched in their texts; and the pair a feature's example comes from.

Sorting and filtering are numpy passes over every pair's score (microseconds for 100k
pairs). Searching reads the texts once (the canonical `data/pairs.parquet`, lowercased and
kept) and is then one vectorised substring pass per search.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from safer_engine.codes.examples import FeatureExamples
from safer_engine.service.pairs import SHOWN_PAIRS, PairRanking
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace

PAIR_SORTS = ("score", "slice", "pair")
"""score: highest first; slice: by slice name, highest score first within each; pair: the
pairs' order in the data."""
TEXT_COLUMNS = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class PairQuery:
    """The Pairs screen's sort, filters and search."""

    sort: str = "score"
    descending: bool = True
    slice: str = ""
    """Only this slice ("" for all)."""
    split: str = ""
    """Only this split ("" for all)."""
    search: str = ""
    """Only pairs whose prompt or either response contains this (any case), or whose id it
    is."""
    wrong: bool = False
    """Only the test pairs the reward model orders wrong, most wrong first (the sort is set
    aside)."""


def default_descending(sort: str) -> bool:
    """The direction a first sort by `sort` uses: scores high first, names and ids A to Z."""
    return sort == "score"


def pair_order(
    ranking: PairRanking,
    query: PairQuery,
    matches: np.ndarray | None = None,
    shown: int = SHOWN_PAIRS,
    mistakes: np.ndarray | None = None,
) -> np.ndarray:
    """The pairs to list (at most `shown`), in the query's order; `matches` (a bool per
    pair) is the search's result, `mistakes` the wrongly ordered test pairs, most wrong
    first (what `query.wrong` lists)."""
    n = len(ranking.scores)
    mask = np.ones(n, dtype=bool)
    if query.slice:
        mask &= ranking.slices == query.slice
    if query.split:
        mask &= ranking.splits == query.split
    if matches is not None:
        mask &= matches
    if query.wrong:
        wrong = mistakes if mistakes is not None else np.zeros(0, dtype=np.int64)
        return wrong[mask[wrong]][:shown]
    pairs = np.flatnonzero(mask)
    scores = ranking.scores[pairs]
    if query.sort == "slice":
        _, slice_rank = np.unique(ranking.slices[pairs].astype(str), return_inverse=True)
        order = np.lexsort((pairs, -scores, slice_rank))
    elif query.sort == "pair":
        order = np.arange(len(pairs))
    else:
        order = np.lexsort((pairs, -scores))
    if query.descending != default_descending(query.sort):
        order = order[::-1]
    return pairs[order][:shown]


def choices(values: np.ndarray) -> list[str]:
    """The distinct slice (or split) names, for the filter keys to cycle through."""
    return sorted({str(v) for v in values.tolist()})


class PairTexts:
    """Every pair's prompt and responses, lowercased once, for searching (read on the first
    search, from any thread, once)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._table: pl.DataFrame | None = None
        self._lock = threading.Lock()

    def matches(self, examples: FeatureExamples, needle: str) -> np.ndarray:
        """A bool per pair (store order): its texts contain `needle` in any case, or it is
        the pair with that id."""
        needle = needle.strip().lower()
        ids = np.array(examples.store.pair_ids(), dtype=object)
        hits = ids == needle
        if not needle:
            return np.ones(len(ids), dtype=bool)
        table = self._texts(examples, ids)
        found = table.filter(
            pl.any_horizontal(pl.col(c).str.contains(needle, literal=True) for c in TEXT_COLUMNS)
        )
        return hits | np.isin(ids, np.array(found["pair_id"].to_list(), dtype=object))

    def _texts(self, examples: FeatureExamples, ids: np.ndarray) -> pl.DataFrame:
        with self._lock:
            if self._table is None:
                self._table = self._read(examples, ids)
            return self._table

    def _read(self, examples: FeatureExamples, ids: np.ndarray) -> pl.DataFrame:
        path = self.workspace.pairs_path
        if path.exists():
            table = pl.read_parquet(path, columns=["pair_id", *TEXT_COLUMNS])
        else:  # a workspace without its data table: the store's texts
            table = _store_texts(examples, ids)
        return table.select(
            pl.col("pair_id"), *(pl.col(c).fill_null("").str.to_lowercase() for c in TEXT_COLUMNS)
        )


def _store_texts(examples: FeatureExamples, ids: np.ndarray) -> pl.DataFrame:
    """Each pair's texts from the store: the data's own, or re-joined from token pieces in
    stores written before those were kept."""
    store = examples.store
    chosen = [int(d) for d in store.chosen_doc]
    rejected = [int(d) for d in store.rejected_doc]
    return pl.DataFrame(
        {
            "pair_id": list(ids),
            "prompt": [_prompt(store, d) for d in chosen],
            "chosen": [_response(store, d) for d in chosen],
            "rejected": [_response(store, d) for d in rejected],
        }
    )


def pair_texts(examples: FeatureExamples, pairs: Sequence[int]) -> list[tuple[str, str]]:
    """Each pair's prompt and chosen response as the data holds them (stores written before
    the texts were kept have no prompt, and the response re-joined from token pieces)."""
    store = examples.store
    docs = [int(store.chosen_doc[pair]) for pair in pairs]
    return [(_prompt(store, doc), _response(store, doc)) for doc in docs]


def _prompt(store: StoreReader, doc: int) -> str:
    return store.doc_prompt(doc) if store.has_texts else ""


def _response(store: StoreReader, doc: int) -> str:
    return store.doc_response(doc) if store.has_texts else store.doc_text(doc)


def pair_of_doc(examples: FeatureExamples, doc: int) -> int | None:
    """The first pair whose chosen or rejected response is this document (None: no pair)."""
    store = examples.store
    found = np.flatnonzero((store.chosen_doc == doc) | (store.rejected_doc == doc))
    return int(found[0]) if len(found) else None
