"""Where a feature's example comes from: the pair whose response it is, by the pair's id (as
the explorer's Pairs screen shows it), for the report's labels and the export's rows."""

from __future__ import annotations

import numpy as np

from safer_engine.codes.examples import Example, FeatureExamples


class ExamplePairs:
    """Each document's first pair (its response is that pair's chosen or rejected one),
    found once for the whole store, so labelling an example costs a lookup."""

    def __init__(self, reader: FeatureExamples) -> None:
        store = reader.store
        self.pair_ids = store.pair_ids()
        self.first = first_pairs(store.chosen_doc, store.rejected_doc, store.n_docs)

    def pair_id(self, example: Example) -> str | None:
        """The id of the first pair the example's response is in (None: in no pair)."""
        pair = int(self.first[example.doc])
        return self.pair_ids[pair] if pair >= 0 else None


def first_pairs(chosen_doc: np.ndarray, rejected_doc: np.ndarray, n_docs: int) -> np.ndarray:
    """For each document, the first pair whose chosen or rejected response it is (−1: none)."""
    none = np.iinfo(np.int64).max
    first = np.full(n_docs, none, dtype=np.int64)
    pairs = np.arange(len(chosen_doc), dtype=np.int64)
    for docs in (chosen_doc, rejected_doc):
        np.minimum.at(first, np.asarray(docs, dtype=np.int64), pairs)
    first[first == none] = -1
    return first
