"""Per-feature statistics and a per-feature example index over a store's TopK SAE codes.

The codes of every stored activation row are `idx` int [n_rows, k] (latent ids) and `val`
float16 [n_rows, k] (activations ≥ 0; zeros are padding and ignored). They may be `np.memmap`s
of 20M × 64, so every function walks them in chunks of about a million entries: peak memory is
a few small buffers plus the outputs, and no Python loop runs over rows or features.

Activations are handled through their float16 bit patterns (`uint16` views): for values ≥ 0
the bit order is the value order, so maxima, thresholds and sort keys need no float maths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from safer_engine.errors import StoreError

CHUNK_ENTRIES = 1 << 20
"""Entries (rows × k) per chunk. Temporaries this small stay in cache and are reused by the
allocator; 1M-row chunks (64M entries) page-fault fresh buffers in and run 5× slower."""

F16_MAX_BITS = 0x7BFF  # bits of 65504, the largest finite float16
_NEG_ZERO_BITS = 0x8000
_VAL_BITS = 15  # a finite non-negative float16 fits in 15 bits
_COARSE_SHIFT = 8  # index thresholds are first found on 4 bins per octave, then refined
_FINE_BINS = 1 << _COARSE_SHIFT
_CODES_HINT = "Check that idx and val are the SAE codes of one store, encoded by this SAE."


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


@dataclass(frozen=True)
class QuantileSamples:
    """Examples of one feature drawn around several activation quantiles."""

    quantile: np.ndarray  # float64: the quantile each example was drawn for
    rank: np.ndarray  # int64: position in the feature's index, 0 = strongest
    rows: np.ndarray  # int64: store rows
    vals: np.ndarray  # float16: activations


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
    n_rows, k = _codes_shape(idx, val, n_latents)
    if n_bins < 1:
        raise StoreError(f"n_bins must be at least 1, not {n_bins}.", "Pass n_bins ≥ 1.")
    weights = _doc_weights(chosen_weight, rejected_weight)
    _check_rows(row_doc, selected, n_rows)
    step = _step(k, chunk_rows)
    edges, lut = _hist_lut(_top_bits(val, step), n_bins, n_latents)
    acc = _Sums.empty(n_latents, n_bins, weights)
    for r0, ic, bc in _chunks(idx, val, n_latents, step):
        acc.add_all(ic, bc, lut)
        rows = slice(r0, r0 + ic.shape[0])
        acc.add_selected(ic, bc, np.asarray(row_doc[rows]), np.asarray(selected[rows]), r0)
    return acc.result(edges, n_rows)


def build_feature_index(
    idx: np.ndarray,
    val: np.ndarray,
    n_latents: int,
    max_per_feature: int | None = None,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of each feature's activating rows, strongest first (ties by row ascending).

    Returns `offsets` int64 [n_latents + 1], `rows` int64 [nnz] and `vals` float16 [nnz]:
    feature j's rows are `rows[offsets[j]:offsets[j + 1]]`. Every entry is one int64 key
    (feature, activation descending, row) and one global sort orders them all.

    The full index costs ~10 bytes per nonzero code (12 GiB for 20M rows × k=64). With
    `max_per_feature` only each feature's top rows are kept: a per-feature histogram of the
    activations' float16 bits first finds the floor of each feature's top rows, so only
    entries at or above it are ever sorted and memory is ~10 bytes per kept entry.
    """
    n_rows, k = _codes_shape(idx, val, n_latents)
    if max_per_feature is not None and max_per_feature < 1:
        raise StoreError(
            f"max_per_feature must be at least 1, not {max_per_feature}.",
            "Pass None to keep every activating row.",
        )
    layout = _KeyLayout.fit(n_rows, n_latents)
    step = _step(k, chunk_rows)
    if max_per_feature is None:
        floor, total = None, _count_positive(val, step)
    else:
        floor, total = _floors(idx, val, n_latents, step, max_per_feature)
    keys = _fill_keys(idx, val, n_latents, step, layout, floor, total)
    keys.sort()
    if max_per_feature is not None:
        keys = _keep_top(keys, layout, n_latents, max_per_feature)
    return _decode(keys, layout, n_latents)


def quantile_samples(
    offsets: np.ndarray,
    rows: np.ndarray,
    vals: np.ndarray,
    feature: int,
    n_per_quantile: int = 8,
    quantiles: Sequence[float] = (1.0, 0.99, 0.9, 0.5, 0.1),
) -> QuantileSamples:
    """Up to `n_per_quantile` rows around each quantile of one feature's indexed activations.

    Quantile 1.0 is the strongest activation, 0.5 the median, 0.0 the weakest kept. Reads only
    the examples it returns; rows already drawn for an earlier quantile are not repeated. On
    an index built with `max_per_feature` the quantiles are those of the kept top rows.
    """
    n_latents = offsets.shape[0] - 1
    if not 0 <= feature < n_latents:
        raise StoreError(
            f"Feature {feature} is outside [0, {n_latents}).", "Pick a feature of this SAE."
        )
    if n_per_quantile < 1 or any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise StoreError(
            f"Bad quantile request: n_per_quantile={n_per_quantile}, quantiles={quantiles}.",
            "Ask for at least one row per quantile, at quantiles within [0, 1].",
        )
    start, count = int(offsets[feature]), int(offsets[feature + 1] - offsets[feature])
    width = min(n_per_quantile, count)
    qs = np.asarray(quantiles, dtype=np.float64)
    centre = np.rint((1.0 - qs) * max(count - 1, 0)).astype(np.int64)
    first = np.clip(centre - width // 2, 0, count - width)
    rank = (first[:, None] + np.arange(width)).reshape(-1)
    label = np.repeat(qs, width)
    _, keep = np.unique(rank, return_index=True)
    keep.sort()  # first occurrence wins, in the order the quantiles were asked for
    rank, label = rank[keep], label[keep]
    return QuantileSamples(label, rank, rows[start + rank], vals[start + rank])


# --- input checks --------------------------------------------------------------------------


def _codes_shape(idx: np.ndarray, val: np.ndarray, n_latents: int) -> tuple[int, int]:
    """(n_rows, k) of well-formed codes; raises StoreError on shapes or dtypes that are not."""
    if n_latents < 1:
        raise StoreError(f"n_latents must be at least 1, not {n_latents}.", _CODES_HINT)
    if len(idx.shape) != 2:
        raise StoreError(f"idx must be 2-D [n_rows, k], not of shape {idx.shape}.", _CODES_HINT)
    if tuple(val.shape) != tuple(idx.shape):
        raise StoreError(
            f"val has shape {tuple(val.shape)} but idx has {tuple(idx.shape)}; they must match.",
            _CODES_HINT,
        )
    if not np.issubdtype(idx.dtype, np.integer):
        raise StoreError(f"idx must hold integer latent ids, not {idx.dtype}.", _CODES_HINT)
    if val.dtype != np.float16:
        raise StoreError(
            f"val must be float16 activations, not {val.dtype}.",
            "Store SAE codes as float16 (`val.astype(np.float16)`).",
        )
    n_rows, k = int(idx.shape[0]), int(idx.shape[1])
    if k < 1:
        raise StoreError("idx has no codes per row (k = 0).", _CODES_HINT)
    if k > n_latents:
        raise StoreError(
            f"k ({k}) is larger than n_latents ({n_latents}).",
            "Pass the n_latents of the SAE that encoded these codes.",
        )
    return n_rows, k


def _doc_weights(chosen: np.ndarray, rejected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-document pair counts as float64, checked for shape, NaN and sign."""
    cw = np.asarray(chosen, dtype=np.float64)
    rw = np.asarray(rejected, dtype=np.float64)
    if cw.ndim != 1 or cw.shape != rw.shape:
        raise StoreError(
            f"chosen_weight {cw.shape} and rejected_weight {rw.shape} must be 1-D of one "
            "length (n_docs).",
            "Count, for every document, the pairs using it as chosen and as rejected.",
        )
    for name, w in (("chosen_weight", cw), ("rejected_weight", rw)):
        if not np.isfinite(w).all() or (w < 0).any():
            raise StoreError(
                f"{name} has NaN, infinite or negative entries.",
                "Weights are pair counts: finite and ≥ 0.",
            )
    return cw, rw


def _check_rows(row_doc: np.ndarray, selected: np.ndarray, n_rows: int) -> None:
    """Raise unless row_doc and selected are one integer / bool entry per row."""
    if tuple(row_doc.shape) != (n_rows,) or not np.issubdtype(row_doc.dtype, np.integer):
        raise StoreError(
            f"row_doc must be integers of shape ({n_rows},), not {row_doc.dtype} "
            f"{tuple(row_doc.shape)}.",
            "Pass one document id per stored row.",
        )
    if tuple(selected.shape) != (n_rows,) or selected.dtype != np.bool_:
        raise StoreError(
            f"selected must be bool of shape ({n_rows},), not {selected.dtype} "
            f"{tuple(selected.shape)}.",
            "Pass the store's `selected` mask, one flag per row.",
        )


def _check_ids(ic: np.ndarray, r0: int, n_latents: int) -> None:
    """Raise if any latent id in this chunk is outside [0, n_latents)."""
    if ic.size == 0 or (ic.min() >= 0 and ic.max() < n_latents):
        return
    flat = int(np.flatnonzero((ic < 0) | (ic >= n_latents))[0])
    raise StoreError(
        f"idx has latent id {int(ic.flat[flat])} at row {r0 + flat // ic.shape[1]}, outside "
        f"[0, {n_latents}).",
        "Pass the n_latents of the SAE that encoded these codes.",
    )


def _check_docs(docs: np.ndarray, r0: int, n_docs: int) -> None:
    """Raise if any document id in this chunk has no weight."""
    if docs.size == 0 or (docs.min() >= 0 and docs.max() < n_docs):
        return
    at = int(np.flatnonzero((docs < 0) | (docs >= n_docs))[0])
    raise StoreError(
        f"row_doc has document {int(docs[at])} at row {r0 + at}, outside [0, {n_docs}).",
        "chosen_weight and rejected_weight need one entry per document.",
    )


def _clean_bits(bits: np.ndarray, r0: int) -> np.ndarray:
    """The chunk's float16 bits, with −0.0 made +0.0; raises on NaN, ±inf and negatives."""
    if bits.size == 0 or bits.max() <= F16_MAX_BITS:
        return bits
    bad = (bits > F16_MAX_BITS) & (bits != _NEG_ZERO_BITS)
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        value = bits.reshape(-1)[flat : flat + 1].view(np.float16)[0]
        kind = "NaN" if np.isnan(value) else "infinite" if np.isinf(value) else "negative"
        raise StoreError(
            f"val has a {kind} activation ({value}) at row {r0 + flat // bits.shape[1]}.",
            "SAE codes must be finite and ≥ 0; re-encode the store with a healthy SAE.",
        )
    # −0.0's bits would rank above every positive activation
    return np.where(bits == _NEG_ZERO_BITS, np.uint16(0), bits)


# --- streaming -----------------------------------------------------------------------------


def _step(k: int, chunk_rows: int | None) -> int:
    """Rows per chunk: the caller's choice, or about CHUNK_ENTRIES entries."""
    if chunk_rows is None:
        return max(1, CHUNK_ENTRIES // max(k, 1))
    if chunk_rows < 1:
        raise StoreError(f"chunk_rows must be at least 1, not {chunk_rows}.", "Pass None.")
    return int(chunk_rows)


def _chunks(
    idx: np.ndarray, val: np.ndarray, n_latents: int, step: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first row, checked idx chunk, checked val chunk as uint16 bits) per chunk of rows."""
    for r0 in range(0, int(idx.shape[0]), step):
        ic = np.asarray(idx[r0 : r0 + step])
        if ic.dtype not in (np.int32, np.int64):
            ic = ic.astype(np.int64)
        _check_ids(ic, r0, n_latents)
        yield r0, ic, _clean_bits(np.asarray(val[r0 : r0 + step]).view(np.uint16), r0)


def _val_chunks(val: np.ndarray, step: int) -> Iterator[np.ndarray]:
    """Checked val chunks as uint16 bits, for passes that need no latent ids."""
    for r0 in range(0, int(val.shape[0]), step):
        yield _clean_bits(np.asarray(val[r0 : r0 + step]).view(np.uint16), r0)


def _top_bits(val: np.ndarray, step: int) -> int:
    """Bits of the largest activation (0 when there is none)."""
    return max((int(bc.max(initial=0)) for bc in _val_chunks(val, step)), default=0)


def _count_positive(val: np.ndarray, step: int) -> int:
    """How many activations are > 0."""
    return sum(int(np.count_nonzero(bc)) for bc in _val_chunks(val, step))


# --- feature statistics --------------------------------------------------------------------


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


# --- feature index -------------------------------------------------------------------------


@dataclass(frozen=True)
class _KeyLayout:
    """One int64 sort key per entry: feature, then activation descending, then row."""

    row_bits: int

    @classmethod
    def fit(cls, n_rows: int, n_latents: int) -> _KeyLayout:
        """The layout for this many rows and latents; raises when 63 bits cannot hold it."""
        row_bits = max(1, (n_rows - 1).bit_length())
        if (n_latents - 1).bit_length() + _VAL_BITS + row_bits > 62:
            raise StoreError(
                f"{n_rows:,} rows × {n_latents:,} latents are too many to index in one pass.",
                "Index a slice of the store's rows at a time.",
            )
        return cls(row_bits)

    @property
    def feature_shift(self) -> int:
        """Where the feature id starts in a key."""
        return self.row_bits + _VAL_BITS

    def tables(self, step: int, k: int) -> _KeyTables:
        """Lookup tables for `encode`, made once per pass."""
        bits = np.arange(1 << 16, dtype=np.int64)
        value = np.maximum(F16_MAX_BITS - bits, 0) << self.row_bits
        return _KeyTables(value, np.arange(step * k, dtype=np.int64) // k)

    def encode(
        self, ic: np.ndarray, bc: np.ndarray, r0: int, keep: np.ndarray, tables: _KeyTables
    ) -> np.ndarray:
        """Keys of a chunk's entries where `keep` (a flat mask) is set.

        Built in a chunk-sized buffer, which stays in cache, then copied out once.
        """
        ids, bits = ic.reshape(-1), bc.reshape(-1)
        local = tables.local_row[: ids.size]
        if not keep.all():
            # a threshold keeps few entries: encode just those
            at = np.flatnonzero(keep)
            ids, bits, local = ids[at], bits[at], local[at]
        key = np.take(tables.value, bits)
        key |= np.left_shift(ids, self.feature_shift, dtype=np.int64)
        key |= local
        key += r0  # the row field holds local + r0 < 2**row_bits: no carry
        return key

    def starts(self, keys: np.ndarray, n_latents: int) -> np.ndarray:
        """Offsets of each feature's run in sorted keys, and the end (int64 [n_latents + 1])."""
        firsts = np.arange(n_latents, dtype=np.int64) << self.feature_shift
        return np.append(np.searchsorted(keys, firsts), keys.size).astype(np.int64)


@dataclass(frozen=True)
class _KeyTables:
    """Per-pass lookups: key part of each float16 bit pattern; chunk row of each entry."""

    value: np.ndarray
    local_row: np.ndarray


def _fill_keys(
    idx: np.ndarray,
    val: np.ndarray,
    n_latents: int,
    step: int,
    layout: _KeyLayout,
    floor: np.ndarray | None,
    total: int,
) -> np.ndarray:
    """Keys of all entries at or above their feature's floor bits (all > 0 without a floor).

    `total` is their count, known beforehand, so the keys are written once into one array.
    """
    keys = np.empty(total, dtype=np.int64)
    tables = layout.tables(step, int(idx.shape[1]))
    written = 0
    for r0, ic, bc in _chunks(idx, val, n_latents, step):
        bits = bc.reshape(-1)
        keep = bits > 0 if floor is None else bits >= np.take(floor, ic.reshape(-1))
        key = layout.encode(ic, bc, r0, keep, tables)
        if written + key.size > total:
            break
        keys[written : written + key.size] = key
        written += key.size
    if written != total:
        raise StoreError(
            "The SAE codes changed while they were being indexed.",
            "Index a store that no other process is writing.",
        )
    return keys


def _bit_hist(
    idx: np.ndarray, val: np.ndarray, n_latents: int, step: int, within: np.ndarray | None
) -> np.ndarray:
    """Per-feature counts of positive activations by bit pattern, [n_bins, n_latents].

    Without `within`: coarse bins `bits >> _COARSE_SHIFT`. With it: only entries in coarse
    bin `within[feature]`, by their low bits (the fine bins of that one coarse bin).
    """
    n_bins = (F16_MAX_BITS >> _COARSE_SHIFT) + 1 if within is None else _FINE_BINS
    counts = np.zeros((n_bins + 1) * n_latents, dtype=np.int64)
    lut = np.full(1 << 16, n_bins * n_latents, dtype=np.int64)  # zero → the discard bin
    pattern = np.arange(1, F16_MAX_BITS + 1, dtype=np.int64)
    lut[1 : F16_MAX_BITS + 1] = (
        pattern >> _COARSE_SHIFT if within is None else pattern & (_FINE_BINS - 1)
    ) * n_latents
    for _, ic, bc in _chunks(idx, val, n_latents, step):
        ids, bits = ic.reshape(-1), bc.reshape(-1)
        if within is not None:
            at = np.flatnonzero((bits >> _COARSE_SHIFT) == np.take(within, ids))
            ids, bits = ids[at], bits[at]
        key = np.take(lut, bits)
        key += ids
        np.add.at(counts, key, 1)
    return counts.reshape(n_bins + 1, n_latents)[:-1]


def _boundary(hist: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per feature, the highest bin whose count at or above it reaches `need` (0 if none),
    and that count."""
    at_or_above = np.cumsum(hist[::-1], axis=0)
    reached = at_or_above >= need
    top = np.where(reached.any(axis=0), reached.argmax(axis=0), hist.shape[0] - 1)
    features = np.arange(hist.shape[1])
    return hist.shape[0] - 1 - top, at_or_above[top, features]


def _floors(
    idx: np.ndarray, val: np.ndarray, n_latents: int, step: int, m: int
) -> tuple[np.ndarray, int]:
    """Per-feature bits to keep (≥ them) so each feature's top m entries are kept, and the
    number of entries that keeps.

    A coarse histogram (4 bins per octave) bounds each feature's m-th largest activation; when
    the boundary bins hold many more entries than needed, a second pass finds it exactly.
    Entries tied with the m-th are all kept here and cut after sorting.
    """
    coarse = _bit_hist(idx, val, n_latents, step, within=None)
    counts = coarse.sum(axis=0)
    need = np.full(n_latents, m, dtype=np.int64)
    edge, kept = _boundary(coarse, need)
    floor = np.maximum(edge << _COARSE_SHIFT, 1)
    if kept.sum() <= 2 * np.minimum(counts, m).sum():
        return floor.astype(np.uint16), int(kept.sum())
    # features with at most m entries keep all and take no part in the refinement
    many = counts > m
    within = np.where(many, edge, 0xFFFF).astype(np.uint16)
    fine = _bit_hist(idx, val, n_latents, step, within=within)
    above = kept - coarse[edge, np.arange(n_latents)]
    low, kept_fine = _boundary(fine, np.maximum(need - above, 1))
    floor = np.where(many, np.maximum((edge << _COARSE_SHIFT) | low, 1), 1)
    kept = np.where(many, above + kept_fine, counts)
    return floor.astype(np.uint16), int(kept.sum())


def _keep_top(keys: np.ndarray, layout: _KeyLayout, n_latents: int, m: int) -> np.ndarray:
    """Sorted keys cut to each feature's first m."""
    starts = layout.starts(keys, n_latents)
    ends = np.minimum(starts[:-1] + m, starts[1:])
    # +1 where a feature's run starts, −1 where its kept part ends: the running sum marks kept
    inside = np.zeros(keys.size + 1, dtype=np.int8)
    np.add.at(inside, starts[:-1], 1)
    np.add.at(inside, ends, -1)
    return keys[np.cumsum(inside[:-1], dtype=np.int8) > 0]


def _decode(
    keys: np.ndarray, layout: _KeyLayout, n_latents: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, rows, vals) from sorted keys; the keys array becomes `rows` in place."""
    offsets = layout.starts(keys, n_latents)
    vals = np.empty(keys.size, dtype=np.float16)
    bits = vals.view(np.uint16)
    row_mask = (1 << layout.row_bits) - 1
    for a in range(0, keys.size, CHUNK_ENTRIES):
        part = keys[a : a + CHUNK_ENTRIES]
        inverted = part >> layout.row_bits
        inverted &= 0x7FFF
        np.subtract(F16_MAX_BITS, inverted, out=bits[a : a + CHUNK_ENTRIES], casting="unsafe")
        part &= row_mask
    return offsets, keys, vals
