"""A feature's examples, a document's shading and a pair's strongest features, read from the
store and the SAE's codes: token windows through the CSR index (O(examples shown), never a
scan). Torch-free: the explorer reads through it."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from safer_engine.analysis.feature_index import quantile_samples
from safer_engine.analysis.pair_scores import feature_weights
from safer_engine.codes.reader import CodesReader, Histogram
from safer_engine.store.reader import StoreReader
from safer_engine.store.text import MARKERS, DocumentText, Span

# Side code of a document = 1 if it is chosen in some pair + 2 if it is rejected in some pair.
SIDES = ("none", "chosen", "rejected", "both")
WINDOW = 14
"""Tokens shown before an example's token (half as many after it)."""


def side_codes(chosen_doc: np.ndarray, rejected_doc: np.ndarray, n_docs: int) -> np.ndarray:
    """Each document's index into `SIDES`, vectorised: opening a store with 100k+ documents
    must not loop over them in Python."""
    chosen = np.zeros(n_docs, dtype=np.uint8)
    rejected = np.zeros(n_docs, dtype=np.uint8)
    chosen[chosen_doc] = 1
    rejected[rejected_doc] = 2
    return chosen | rejected


@dataclass(frozen=True)
class Example:
    """One activating token with the text around it, every token's span carrying this
    feature's activation (the span with `focus` is the token drawn)."""

    spans: list[Span]
    activation: float
    side: str
    quantile: float
    doc: int
    token: int
    """The drawn token's row in the store."""

    @property
    def pieces(self) -> list[str]:
        """The window's text in stretches, markers left out: each token's text and the text
        between tokens (the judge's prompt reads these; `safer_engine.judge.rubric.Context`)."""
        return [span.text for span in self._text_spans]

    @property
    def in_response(self) -> list[bool]:
        """Whether each of `pieces` is in the response."""
        return [span.part in ("response", "special") for span in self._text_spans]

    @property
    def focus(self) -> int:
        """The index in `pieces` of the drawn token (-1 if the window lacks it)."""
        return next((i for i, span in enumerate(self._text_spans) if span.focus), -1)

    @property
    def _text_spans(self) -> list[Span]:
        return [span for span in self.spans if span.part not in MARKERS]


class FeatureExamples:
    """Open once per explorer session; `examples(feature)` reads only what it returns."""

    def __init__(self, store_path: Path, sae_dir: Path) -> None:
        self.store = StoreReader(store_path)
        try:
            self.codes = CodesReader(sae_dir)
        except BaseException:
            self.store.close()
            raise
        self.idx, self.val, self.n_latents = self.codes.idx, self.codes.val, self.codes.n_latents
        self.token_rows = np.asarray(self.store.token_row)
        self.sides = side_codes(self.store.chosen_doc, self.store.rejected_doc, self.store.n_docs)
        self.text = DocumentText(self.store)

    @property
    def original_text(self) -> bool:
        """Whether texts are the data's own (else re-joined from token pieces: an older
        store)."""
        return self.text.original

    def side(self, doc: int) -> str:
        """Whether the document's response is chosen, rejected or both across the pairs."""
        return SIDES[int(self.sides[doc])]

    def histogram(self, feature: int) -> Histogram:
        return self.codes.histogram(feature)

    def examples(
        self,
        feature: int,
        per_quantile: int = 3,
        quantiles: tuple[float, ...] = (1.0, 0.9, 0.5, 0.1),
        window: int = WINDOW,
    ) -> list[Example]:
        sample = quantile_samples(
            self.codes.offsets,
            np.asarray(self.codes.rows),
            np.asarray(self.codes.vals),
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
        lo, hi = self.window_of(doc, token, window)
        values = self._activations(feature, lo, hi, (row, token))
        return Example(
            spans=self.text.window(doc, lo, hi, values, token),
            activation=value,
            side=self.side(doc),
            quantile=quantile,
            doc=doc,
            token=token,
        )

    def window_of(self, doc: int, token: int, window: int = WINDOW) -> tuple[int, int]:
        """The tokens [lo, hi) an example around `token` shows: `window` before it and half
        as many after, within its document."""
        s = self.store
        return max(int(s.tok_start[doc]), token - window), min(
            int(s.tok_end[doc]), token + window // 2 + 1
        )

    def example_at(self, feature: int, row: int, quantile: float, window: int = WINDOW) -> Example:
        """The example around one activation row, with the feature's activation there (0
        where it does not fire): a context the judge's explanation is tested on."""
        token = int(self.store.token_row[row])
        value = float(self._activations(feature, token, token + 1, (row, token))[0])
        return self._example(feature, row, value, quantile, window)

    def doc_activations(self, feature: int, doc: int) -> np.ndarray:
        """The feature's activation on each token of a document (0 where it is not coded)."""
        s = self.store
        return self._activations(feature, int(s.tok_start[doc]), int(s.tok_end[doc]))

    def rows_between(
        self, lo: int, hi: int, near: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        """The activation rows of tokens [lo, hi), by binary search over the memory map.

        `near`, a (row, its token) with the token in [lo, hi), bounds the search to the
        hi − lo rows around it (rows are distinct increasing tokens), so a cold page cache
        costs a page or two instead of ~2·log2(rows) reads. Not `np.searchsorted`: on a
        memory map whose offset in the HDF5 file is not a multiple of 8 (common) it first
        copies all token rows, ~30 ms per call on a 20M-token store.
        """
        first, last = 0, len(self.token_rows)
        if near is not None:
            row, token = near
            first, last = max(first, row - (token - lo)), min(last, row + (hi - token))
        rows = self.token_rows
        return bisect_left(rows, lo, first, last), bisect_left(rows, hi, first, last)

    def _activations(
        self, feature: int, lo: int, hi: int, near: tuple[int, int] | None = None
    ) -> np.ndarray:
        """This feature's activation on each token in [lo, hi); 0 where it is not coded."""
        first, last = self.rows_between(lo, hi, near)
        out = np.zeros(hi - lo, dtype=np.float32)
        if last > first:
            idx = np.asarray(self.idx[first:last])
            val = np.asarray(self.val[first:last]).astype(np.float32)
            hits = idx == feature
            values = np.where(hits, val, 0).max(axis=1)
            out[self.token_rows[first:last] - lo] = values
        return out

    def pair_id(self, pair: int) -> str:
        """The pair's id in the canonical data (a hash of its three texts)."""
        value = self.store.h5["pairs/pair_id"][pair]
        return value.decode("ascii") if isinstance(value, bytes) else str(value)

    def prompt(self, doc: int) -> list[Span]:
        """The document's whole prompt, what the model never read of it marked."""
        return self.text.prompt(doc)

    def doc_rows(self, doc: int) -> slice:
        """The activation rows of a document's stored tokens."""
        first, last = self.rows_between(
            int(self.store.tok_start[doc]), int(self.store.tok_end[doc])
        )
        return slice(int(first), int(last))

    def response_shading(self, doc: int, safe: list[int], unsafe: list[int]) -> list[Span]:
        """The whole response, each token's text with Σ safe − Σ unsafe activations on that
        token (with `safe=[f]` and no unsafe: feature f's own activation, as top-k codes hold
        a feature at most once per token)."""
        s = self.store
        weights = feature_weights(self.n_latents, safe, unsafe)
        rows = self.doc_rows(doc)
        scores = np.zeros(int(s.tok_end[doc] - s.tok_start[doc]), dtype=np.float32)
        if rows.stop > rows.start:
            idx = np.asarray(self.idx[rows])
            val = np.asarray(self.val[rows]).astype(np.float32)
            scores[self.token_rows[rows] - int(s.tok_start[doc])] = (weights[idx] * val).sum(1)
        return self.text.response(doc, scores)

    def strongest_features(self, chosen: int, rejected: int, n: int = 5) -> list[tuple[int, float]]:
        """Features whose summed activation differs most between the two responses."""
        n_latents = self.n_latents
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
        self.codes.close()
        self.store.close()
