"""Pairs ranked by the pair score of the selected safety features, for the explorer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from safer_engine.codes.examples import FeatureExamples
from safer_engine.scores.selection import Selection
from safer_engine.service.text import Span

SHOWN_PAIRS = 2000
"""The table lists the highest-scoring pairs; scores cover every pair."""


@dataclass(frozen=True)
class PairRanking:
    """Every pair's score (store order), its parts and the pairs the table lists."""

    selection: Selection
    pair_ids: np.ndarray
    """Each pair's id in the data (`pair_id`): what every screen shows of a pair."""
    scores: np.ndarray
    s_chosen: np.ndarray
    s_rejected: np.ndarray
    slices: np.ndarray
    splits: np.ndarray
    top_features: np.ndarray
    """int [n_pairs, 3]: the features that contribute most to each score (−1: none)."""
    top_shares: np.ndarray
    order: np.ndarray
    """The pairs listed, highest score first."""
    reused: bool
    """The scores were saved earlier for this same selection."""
    flipped: np.ndarray | None = None
    """bool per pair: flipped on purpose by a noise benchmark (the truth the benchmark keeps
    in its noisy workspaces); None in any other workspace."""

    def id_of(self, pair: int) -> str:
        return str(self.pair_ids[pair])

    def slice_of(self, pair: int) -> str:
        return str(self.slices[pair])

    def split_of(self, pair: int) -> str:
        return str(self.splits[pair])

    def was_flipped(self, pair: int) -> bool | None:
        """Whether a noise benchmark flipped the pair; None outside its noisy workspaces."""
        return None if self.flipped is None else bool(self.flipped[pair])

    def contributors(self, pair: int) -> list[tuple[int, float]]:
        """(feature, signed share of the score) of the pair's main contributors."""
        found = zip(self.top_features[pair].tolist(), self.top_shares[pair].tolist(), strict=True)
        return [(int(f), float(s)) for f, s in found if f >= 0 and s != 0]


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


def ranking_from(
    table: pl.DataFrame,
    selection: Selection,
    reused: bool,
    shown: int = SHOWN_PAIRS,
    flipped: frozenset[str] | None = None,
) -> PairRanking:
    """The ranking of a pair-scores table (one row per pair, in store order); `flipped` are
    the pair ids a noise benchmark flipped, when the workspace is one of its noisy ones."""
    scores = table["score"].to_numpy()
    top = [c for c in table.columns if c.startswith("feature_")]
    shares = [c.replace("feature_", "share_") for c in top]
    return PairRanking(
        selection=selection,
        pair_ids=table["pair_id"].cast(pl.Utf8).to_numpy(),
        scores=scores,
        s_chosen=table["s_chosen"].to_numpy(),
        s_rejected=table["s_rejected"].to_numpy(),
        slices=table["slice"].to_numpy(),
        splits=table["split"].to_numpy(),
        top_features=table.select(top).to_numpy(),
        top_shares=table.select(shares).to_numpy(),
        order=np.argsort(-scores, kind="stable")[:shown],
        reused=reused,
        flipped=None if flipped is None else table["pair_id"].is_in(list(flipped)).to_numpy(),
    )


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
