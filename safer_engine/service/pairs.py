"""Pairs ranked by the pair score of a safe and an unsafe feature set, for the explorer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safer_engine.analysis.pair_scores import pair_scores
from safer_engine.progress import CancelToken, Progress
from safer_engine.service.examples import FeatureExamples
from safer_engine.service.text import Span

SHOWN_PAIRS = 2000
"""The table lists the highest-scoring pairs; scores cover every pair."""


@dataclass(frozen=True)
class PairRanking:
    """Every pair's score, its parts and what the table lists beside it."""

    doc_scores: np.ndarray
    scores: np.ndarray
    order: np.ndarray
    """The pairs listed, highest score first."""
    slices: np.ndarray
    slice_names: list[str]
    splits: np.ndarray
    split_names: list[str]

    def slice_of(self, pair: int) -> str:
        return self.slice_names[self.slices[pair]]

    def split_of(self, pair: int) -> str:
        return self.split_names[self.splits[pair]]


@dataclass(frozen=True)
class PairView:
    """One pair as the Pairs screen shows it."""

    pair: int
    pair_id: str
    chosen_doc: int
    rejected_doc: int
    prompt: list[Span]
    """The whole prompt; what the model never read of it is marked."""
    strongest: list[tuple[int, float]]
    """Features whose activation differs most between the responses (chosen − rejected)."""
    original: bool
    """Whether texts are the data's own (else re-joined from token pieces: an older store)."""


def rank_pairs(
    examples: FeatureExamples,
    safe: list[int],
    unsafe: list[int],
    progress: Progress,
    cancel: CancelToken,
    shown: int = SHOWN_PAIRS,
) -> PairRanking:
    """Score every pair (a pass over all codes) and order the best `shown` of them."""
    store = examples.store
    doc_scores = examples.doc_scores(safe, unsafe, progress, cancel)
    slices, slice_names = store.codes("slice")
    splits, split_names = store.codes("split")
    scores = pair_scores(doc_scores, store.chosen_doc, store.rejected_doc)
    order = np.argsort(-scores, kind="stable")[:shown]
    return PairRanking(doc_scores, scores, order, slices, slice_names, splits, split_names)


def pair_view(examples: FeatureExamples, pair: int) -> PairView:
    store = examples.store
    chosen, rejected = int(store.chosen_doc[pair]), int(store.rejected_doc[pair])
    return PairView(
        pair=pair,
        pair_id=examples.pair_id(pair),
        chosen_doc=chosen,
        rejected_doc=rejected,
        prompt=examples.prompt(chosen),
        strongest=examples.strongest_features(chosen, rejected),
        original=examples.original_text,
    )
