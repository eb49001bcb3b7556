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


@dataclass(frozen=True)
class FeatureStats:
    """Per-feature sums and summaries over a store's SAE codes (arrays of length n_latents).

    `sum_*` are the activation sums over selected tokens of chosen / rejected responses and
    `fires_*` the counts of those tokens where the feature fires, both weighted by how many
    pairs use each text on that side; `tokens_*` are the matching weighted token totals.
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
    """Salience sums, firing counts, maxima, densities and histograms of every feature.

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
        acc.add_selected(ic, bc, np.asarray(row_doc[rows]), np.asarray(selected[rows]), r0)
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
class _Sums:
    """Running per-feature accumulators of `feature_stats`."""

    chosen_weight: np.ndarray
    rejected_weight: np.ndarray
    sum_chosen: np.ndarray
    sum_rejected: np.ndarray
    fires_chosen: np.ndarray
    fires_rejected: np.ndarray
    top: np.ndarray  # uint16 bits of each feature's max
    hist: np.ndarray  # int64 [(n_bins + 1) * n_latents]
    tokens_chosen: float = 0.0
    tokens_rejected: float = 0.0

    @classmethod
    def empty(cls, n_latents: int, n_bins: int, weights: tuple[np.ndarray, np.ndarray]) -> _Sums:
        """Zeroed accumulators."""
        return cls(
            chosen_weight=weights[0],
            rejected_weight=weights[1],
            sum_chosen=np.zeros(n_latents, dtype=np.float64),
            sum_rejected=np.zeros(n_latents, dtype=np.float64),
            fires_chosen=np.zeros(n_latents, dtype=np.float64),
            fires_rejected=np.zeros(n_latents, dtype=np.float64),
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

    def add_selected(
        self, ic: np.ndarray, bc: np.ndarray, docs: np.ndarray, sel: np.ndarray, r0: int
    ) -> None:
        """Weighted sums and firing counts over the chunk's selected rows."""
        _check_docs(docs, r0, self.chosen_weight.shape[0])
        at = np.flatnonzero(sel)
        if at.size == 0:
            return
        wc, wr = self.chosen_weight[docs[at]], self.rejected_weight[docs[at]]
        ids, bits = ic[at].reshape(-1), bc[at]
        act = bits.view(np.float16).astype(np.float32)
        fired = bits > 0
        self.tokens_chosen += float(wc.sum())
        self.tokens_rejected += float(wr.sum())
        np.add.at(self.sum_chosen, ids, (act * wc[:, None]).reshape(-1))
        np.add.at(self.sum_rejected, ids, (act * wr[:, None]).reshape(-1))
        np.add.at(self.fires_chosen, ids, (fired * wc[:, None]).reshape(-1))
        np.add.at(self.fires_rejected, ids, (fired * wr[:, None]).reshape(-1))

    def result(self, edges: np.ndarray, n_rows: int) -> FeatureStats:
        """The frozen statistics."""
        n_latents = self.top.shape[0]
        hist = self.hist.reshape(-1, n_latents)[:-1].T.copy()
        density = hist.sum(axis=1) / max(n_rows, 1)
        return FeatureStats(
            sum_chosen=self.sum_chosen,
            sum_rejected=self.sum_rejected,
            fires_chosen=self.fires_chosen,
            fires_rejected=self.fires_rejected,
            tokens_chosen=self.tokens_chosen,
            tokens_rejected=self.tokens_rejected,
            max_act=self.top.view(np.float16).astype(np.float32),
            density=density.astype(np.float32),
            hist=hist,
            hist_edges=edges,
            n_rows=n_rows,
        )
