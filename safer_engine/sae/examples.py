"""A feature's examples: token windows with its activation on every token, read through the
CSR index (O(examples shown), never a scan). Torch-free: the explorer reads through it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safer_engine.analysis.features import quantile_samples
from safer_engine.analysis.pair_scores import feature_weights, pair_scores, response_scores
from safer_engine.sae import CODES_FILE
from safer_engine.store.reader import StoreReader, memmap_dataset


@dataclass(frozen=True)
class Example:
    """One activating token with the text around it."""

    pieces: list[str]
    activations: list[float]
    in_response: list[bool]
    focus: int
    activation: float
    side: str
    quantile: float


class FeatureExamples:
    """Open once per explorer session; `examples(feature)` reads only what it returns."""

    def __init__(self, store_path: Path, sae_dir: Path) -> None:
        import h5py

        self.store = StoreReader(store_path)
        codes_path = sae_dir / CODES_FILE
        self._file = h5py.File(codes_path, "r")
        self.idx = memmap_dataset(codes_path, self._file["codes_idx"])
        self.val = memmap_dataset(codes_path, self._file["codes_val"])
        self.offsets = self._file["by_feature/offsets"][()]
        self.rows = memmap_dataset(codes_path, self._file["by_feature/rows"])
        self.vals = memmap_dataset(codes_path, self._file["by_feature/vals"])
        self.hist = memmap_dataset(codes_path, self._file["stats/hist"])
        self.token_rows = np.asarray(self.store.token_row)
        chosen = set(self.store.chosen_doc.tolist())
        rejected = set(self.store.rejected_doc.tolist())
        self._side = {
            d: {(True, False): "chosen", (False, True): "rejected"}.get(
                (d in chosen, d in rejected), "both"
            )
            for d in range(self.store.n_docs)
        }

    def histogram(self, feature: int) -> list[int]:
        return [int(v) for v in np.asarray(self.hist[feature])]

    def examples(
        self,
        feature: int,
        per_quantile: int = 3,
        quantiles: tuple[float, ...] = (1.0, 0.9, 0.5, 0.1),
        window: int = 14,
    ) -> list[Example]:
        sample = quantile_samples(
            self.offsets,
            np.asarray(self.rows),
            np.asarray(self.vals),
            feature,
            per_quantile,
            quantiles,
        )
        return [
            self._example(feature, int(row), float(value), float(q), window)
            for row, value, q in zip(sample.rows, sample.vals, sample.quantile, strict=True)
        ]

    def _example(
        self, feature: int, row: int, value: float, quantile: float, window: int
    ) -> Example:
        s = self.store
        token = int(s.token_row[row])
        doc = int(s.row_doc[row])
        lo = max(int(s.tok_start[doc]), token - window)
        hi = min(int(s.tok_end[doc]), token + window // 2 + 1)
        ids = np.asarray(s.token_ids[lo:hi])
        return Example(
            pieces=[s.pieces[int(t)] for t in ids],
            activations=self._activations(feature, lo, hi),
            in_response=[int(s.resp_start[doc]) <= t < int(s.resp_end[doc]) for t in range(lo, hi)],
            focus=token - lo,
            activation=value,
            side=self._side[doc],
            quantile=quantile,
        )

    def _activations(self, feature: int, lo: int, hi: int) -> list[float]:
        """This feature's activation on each token in [lo, hi); 0 where it is not coded."""
        first, last = np.searchsorted(self.token_rows, [lo, hi])
        out = np.zeros(hi - lo, dtype=np.float32)
        if last > first:
            idx = np.asarray(self.idx[first:last])
            val = np.asarray(self.val[first:last]).astype(np.float32)
            hits = idx == feature
            values = np.where(hits, val, 0).max(axis=1)
            out[self.token_rows[first:last] - lo] = values
        return out.tolist()

    def pair_scores(self, safe: list[int], unsafe: list[int]) -> np.ndarray:
        """score(pair) = S(chosen) − S(rejected) from the tagged features, for every pair."""
        weights = feature_weights(int(self._file.attrs["n_latents"]), safe, unsafe)
        s = self.store
        per_doc = response_scores(
            self.idx, self.val, np.asarray(s.row_doc), np.asarray(s.selected), s.n_docs, weights
        )
        return pair_scores(per_doc, s.chosen_doc, s.rejected_doc)

    def doc_rows(self, doc: int) -> slice:
        """The activation rows of a document's stored tokens."""
        first, last = np.searchsorted(
            self.token_rows, [int(self.store.tok_start[doc]), int(self.store.tok_end[doc])]
        )
        return slice(int(first), int(last))

    def response_shading(
        self, doc: int, safe: list[int], unsafe: list[int]
    ) -> list[tuple[str, float]]:
        """The response's pieces, each with Σ safe − Σ unsafe activations on that token."""
        s = self.store
        weights = feature_weights(int(self._file.attrs["n_latents"]), safe, unsafe)
        rows = self.doc_rows(doc)
        scores = np.zeros(int(s.tok_end[doc] - s.tok_start[doc]), dtype=np.float32)
        if rows.stop > rows.start:
            idx = np.asarray(self.idx[rows])
            val = np.asarray(self.val[rows]).astype(np.float32)
            scores[self.token_rows[rows] - int(s.tok_start[doc])] = (weights[idx] * val).sum(1)
        pieces = s.doc_pieces(doc)
        return [(piece, float(scores[i])) for i, (piece, in_resp) in enumerate(pieces) if in_resp]

    def strongest_features(self, chosen: int, rejected: int, n: int = 5) -> list[tuple[int, float]]:
        """Features whose summed activation differs most between the two responses."""
        n_latents = int(self._file.attrs["n_latents"])
        totals = np.zeros(n_latents, dtype=np.float64)
        for doc, sign in ((chosen, 1.0), (rejected, -1.0)):
            rows = self.doc_rows(doc)
            totals += sign * np.bincount(
                np.asarray(self.idx[rows]).ravel(),
                weights=np.asarray(self.val[rows]).astype(np.float64).ravel(),
                minlength=n_latents,
            )
        order = np.argsort(-np.abs(totals), kind="stable")[:n]
        return [(int(f), float(totals[f])) for f in order if totals[f] != 0]

    def close(self) -> None:
        self._file.close()
        self.store.close()
