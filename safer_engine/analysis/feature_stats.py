"""Per-feature statistics over a store's SAE codes: the sums salience is made of, firing
counts, maxima, densities and activation histograms, in two streaming passes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safer_engine.analysis.code_chunks import (
    F16_MAX_BITS,
    chunk_step,
    code_chunks,
    codes_shape,
    value_chunks,
)
from safer_engine.errors import AnalysisError

SIDE_ENTRIES = 1 << 18
"""Codes per step of the weighted sums (see `_SideSums.add`)."""


@dataclass(frozen=True)
class FeatureStats:
    """Per-feature sums and summaries over a store's SAE codes (arrays of length n_latents).

    `sum_*` are the activation sums over selected tokens of chosen / rejected responses and
    `fires_*` the counts of those tokens where the feature fires, both weighted by how many
    pairs use each text on that side; `tokens_*` are the matching weighted token totals.
    The `*_all` fields are the same over EVERY stored row (all response tokens of a store
    kept with `--keep response`), so a reader can see what the selection leaves out.
    `max_act`, `density` and `hist` cover ALL rows; `hist` counts nonzero activations in
    the bins between the shared `hist_edges` (linear from 0 to the largest activation).
    `density` counts codes, so it assumes (as TopK guarantees) no latent twice in one row.
    """

    sum_chosen: np.ndarray
    sum_rejected: np.ndarray
    fires_chosen: np.ndarray
    fires_rejected: np.ndarray
    tokens_chosen: float
    tokens_rejected: float
    max_act: np.ndarray
    density: np.ndarray
    hist: np.ndarray
    hist_edges: np.ndarray
    n_rows: int
    sum_chosen_all: np.ndarray
    sum_rejected_all: np.ndarray
    fires_chosen_all: np.ndarray
    fires_rejected_all: np.ndarray
    tokens_chosen_all: float
    tokens_rejected_all: float

    @property
    def n_latents(self) -> int:
        """Number of SAE latents (features)."""
        return int(self.sum_chosen.shape[0])


def feature_stats(
    idx: np.ndarray,
    val: np.ndarray,
    row_doc: np.ndarray,
    selected: np.ndarray,
    chosen_weight: np.ndarray,
    rejected_weight: np.ndarray,
    n_latents: int,
    n_bins: int = 32,
    chunk_rows: int | None = None,
) -> FeatureStats:
    """Salience sums, firing counts, maxima, densities and histograms of every feature; the
    sums and counts over the selected rows and over every row.

    Two streaming passes: one over `val` for the histogram range, one over everything.
    `chunk_rows` defaults to about a million entries per chunk.
    """
    n_rows, k = codes_shape(idx, val, n_latents)
    if n_bins < 1:
        raise AnalysisError(f"n_bins must be at least 1, not {n_bins}.", "Pass n_bins ≥ 1.")
    weights = _doc_weights(chosen_weight, rejected_weight)
    _check_rows(row_doc, selected, n_rows)
    step = chunk_step(k, chunk_rows)
    edges, lut = _hist_lut(_top_bits(val, step), n_bins, n_latents)
    acc = _Sums.empty(n_latents, n_bins, weights)
    for r0, ic, bc in code_chunks(idx, val, n_latents, step):
        acc.add_all(ic, bc, lut)
        rows = slice(r0, r0 + ic.shape[0])
        docs = np.asarray(row_doc[rows])
        _check_docs(docs, r0, weights[0].shape[0])
        acc.selected.add(ic, bc, docs, np.flatnonzero(np.asarray(selected[rows])))
        acc.every.add(ic, bc, docs, None)
    return acc.result(edges, n_rows)


def _doc_weights(chosen: np.ndarray, rejected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-document pair counts as float64, checked for shape, NaN and sign."""
    cw = np.asarray(chosen, dtype=np.float64)
    rw = np.asarray(rejected, dtype=np.float64)
    if cw.ndim != 1 or cw.shape != rw.shape:
        raise AnalysisError(
            f"chosen_weight {cw.shape} and rejected_weight {rw.shape} must be 1-D of one "
            "length (n_docs).",
            "Count, for every document, the pairs using it as chosen and as rejected.",
        )
    for name, w in (("chosen_weight", cw), ("rejected_weight", rw)):
        if not np.isfinite(w).all() or (w < 0).any():
            raise AnalysisError(
                f"{name} has NaN, infinite or negative entries.",
                "Weights are pair counts: finite and ≥ 0.",
            )
    return cw, rw


def _check_rows(row_doc: np.ndarray, selected: np.ndarray, n_rows: int) -> None:
    """Raise unless row_doc and selected are one integer / bool entry per row."""
    if tuple(row_doc.shape) != (n_rows,) or not np.issubdtype(row_doc.dtype, np.integer):
        raise AnalysisError(
            f"row_doc must be integers of shape ({n_rows},), not {row_doc.dtype} "
            f"{tuple(row_doc.shape)}.",
            "Pass one document id per stored row.",
        )
    if tuple(selected.shape) != (n_rows,) or selected.dtype != np.bool_:
        raise AnalysisError(
            f"selected must be bool of shape ({n_rows},), not {selected.dtype} "
            f"{tuple(selected.shape)}.",
            "Pass the store's `selected` mask, one flag per row.",
        )


def _check_docs(docs: np.ndarray, r0: int, n_docs: int) -> None:
    """Raise if any document id in this chunk has no weight."""
    if docs.size == 0 or (docs.min() >= 0 and docs.max() < n_docs):
        return
    at = int(np.flatnonzero((docs < 0) | (docs >= n_docs))[0])
    raise AnalysisError(
        f"row_doc has document {int(docs[at])} at row {r0 + at}, outside [0, {n_docs}).",
        "chosen_weight and rejected_weight need one entry per document.",
    )


def _top_bits(val: np.ndarray, step: int) -> int:
    """Bits of the largest activation (0 when there is none)."""
    return max((int(bc.max(initial=0)) for bc in value_chunks(val, step)), default=0)


def _hist_lut(top_bits: int, n_bins: int, n_latents: int) -> tuple[np.ndarray, np.ndarray]:
    """Shared bin edges, and for every float16 bit pattern its bin's offset in the histogram.

    The histogram is laid out [n_bins + 1, n_latents] so a key is `lut[bits] + feature`; zero
    (and any non-finite pattern, already rejected) goes to the extra last bin.
    """
    top = float(np.array([top_bits], dtype=np.uint16).view(np.float16)[0])
    edges = np.linspace(0.0, top if top > 0 else 1.0, n_bins + 1).astype(np.float32)
    values = np.arange(F16_MAX_BITS + 1, dtype=np.uint16).view(np.float16).astype(np.float32)
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    lut = np.full(1 << 16, n_bins, dtype=np.int64)
    lut[1 : F16_MAX_BITS + 1] = bins[1:]
    return edges, lut * n_latents


@dataclass
class _SideSums:
    """Running weighted sums and firing counts of every feature over a set of rows, on the
    chosen and the rejected side."""

    chosen_weight: np.ndarray
    rejected_weight: np.ndarray
    sum_chosen: np.ndarray
    sum_rejected: np.ndarray
    fires_chosen: np.ndarray
    fires_rejected: np.ndarray
    tokens_chosen: float = 0.0
    tokens_rejected: float = 0.0

    @classmethod
    def empty(cls, n_latents: int, weights: tuple[np.ndarray, np.ndarray]) -> _SideSums:
        def zeros() -> np.ndarray:
            return np.zeros(n_latents, dtype=np.float64)

        return cls(weights[0], weights[1], zeros(), zeros(), zeros(), zeros())

    def add(self, ic: np.ndarray, bc: np.ndarray, docs: np.ndarray, at: np.ndarray | None) -> None:
        """Add the chunk's rows `at` (None: all of them).

        A text is almost always a response on one side only, so each row's codes go into
        one bincount over [chosen | rejected] bins with that side's weight (0 for rows of no
        pair in the split): two passes over the codes (sums, firing counts) instead of four.
        Rows used on both sides are rare; their chosen side is added apart."""
        if at is not None:
            if at.size == 0:
                return
            ic, bc, docs = ic[at], bc[at], docs[at]
        # A few hundred thousand codes at a time: the temporaries (keys, weighted values)
        # then stay in the CPU's cache, twice as fast as a million at a time.
        step = max(1, SIDE_ENTRIES // max(ic.shape[1], 1))
        for r0 in range(0, docs.shape[0], step):
            rows = slice(r0, r0 + step)
            self._add_rows(ic[rows], bc[rows], docs[rows])

    def _add_rows(self, ic: np.ndarray, bc: np.ndarray, docs: np.ndarray) -> None:
        wc, wr = self.chosen_weight[docs], self.rejected_weight[docs]
        self.tokens_chosen += float(wc.sum())
        self.tokens_rejected += float(wr.sum())
        rejected = wr > 0
        both = np.flatnonzero(rejected & (wc > 0))
        if 4 * both.size > docs.shape[0]:  # many texts on both sides: a pass for each side
            keys = ic.astype(np.int64)
            self._add_sides(keys, bc, wc)
            keys += self.n_latents
            self._add_sides(keys, bc, wr)
            return
        side = np.where(rejected, self.n_latents, 0)
        self._add_sides(np.add(ic, side[:, None], dtype=np.int64), bc, np.where(rejected, wr, wc))
        if both.size:
            self._add_sides(ic[both].astype(np.int64), bc[both], wc[both])

    @property
    def n_latents(self) -> int:
        return int(self.sum_chosen.shape[0])

    def _add_sides(self, keys: np.ndarray, bits: np.ndarray, weight: np.ndarray) -> None:
        """Weighted sums and firing counts of rows whose keys are latent ids (+ n_latents
        for the rejected side)."""
        n = self.n_latents
        flat = keys.reshape(-1)
        act = bits.view(np.float16).astype(np.float64)
        act *= weight[:, None]
        sums = np.bincount(flat, weights=act.reshape(-1), minlength=2 * n)
        fired = (bits > 0) * weight[:, None]
        fires = np.bincount(flat, weights=fired.reshape(-1), minlength=2 * n)
        self.sum_chosen += sums[:n]
        self.sum_rejected += sums[n:]
        self.fires_chosen += fires[:n]
        self.fires_rejected += fires[n:]


@dataclass
class _Sums:
    """Running per-feature accumulators of `feature_stats`."""

    selected: _SideSums
    every: _SideSums
    top: np.ndarray  # uint16 bits of each feature's max
    hist: np.ndarray  # int64 [(n_bins + 1) * n_latents]

    @classmethod
    def empty(cls, n_latents: int, n_bins: int, weights: tuple[np.ndarray, np.ndarray]) -> _Sums:
        """Zeroed accumulators."""
        return cls(
            selected=_SideSums.empty(n_latents, weights),
            every=_SideSums.empty(n_latents, weights),
            top=np.zeros(n_latents, dtype=np.uint16),
            hist=np.zeros((n_bins + 1) * n_latents, dtype=np.int64),
        )

    def add_all(self, ic: np.ndarray, bc: np.ndarray, lut: np.ndarray) -> None:
        """Maxima and histograms, over every row of the chunk."""
        ids, bits = ic.reshape(-1), bc.reshape(-1)
        key = np.take(lut, bits)
        key += ids
        np.add.at(self.hist, key, 1)
        np.maximum.at(self.top, ids, bits)

    def result(self, edges: np.ndarray, n_rows: int) -> FeatureStats:
        """The frozen statistics."""
        n_latents = self.top.shape[0]
        hist = self.hist.reshape(-1, n_latents)[:-1].T.copy()
        density = hist.sum(axis=1) / max(n_rows, 1)
        sel, every = self.selected, self.every
        return FeatureStats(
            sum_chosen=sel.sum_chosen,
            sum_rejected=sel.sum_rejected,
            fires_chosen=sel.fires_chosen,
            fires_rejected=sel.fires_rejected,
            tokens_chosen=sel.tokens_chosen,
            tokens_rejected=sel.tokens_rejected,
            max_act=self.top.view(np.float16).astype(np.float32),
            density=density.astype(np.float32),
            hist=hist,
            hist_edges=edges,
            n_rows=n_rows,
            sum_chosen_all=every.sum_chosen,
            sum_rejected_all=every.sum_rejected,
            fires_chosen_all=every.fires_chosen,
            fires_rejected_all=every.fires_rejected,
            tokens_chosen_all=every.tokens_chosen,
            tokens_rejected_all=every.tokens_rejected,
        )
