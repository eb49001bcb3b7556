"""A per-feature example index over a store's SAE codes: each feature's activating rows,
strongest first, as a CSR (opening a feature reads O(examples shown)), and samples of one
feature's examples around activation quantiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from safer_engine.analysis.code_chunks import (
    CHUNK_ENTRIES,
    F16_MAX_BITS,
    chunk_step,
    code_chunks,
    codes_shape,
    value_chunks,
)
from safer_engine.errors import AnalysisError

_VAL_BITS = 15  # a finite non-negative float16 fits in 15 bits
_COARSE_SHIFT = 8  # index thresholds are first found on 4 bins per octave, then refined
_FINE_BINS = 1 << _COARSE_SHIFT


@dataclass(frozen=True)
class QuantileSamples:
    """Examples of one feature drawn around several activation quantiles."""

    quantile: np.ndarray  # float64: the quantile each example was drawn for
    rank: np.ndarray  # int64: position in the feature's index, 0 = strongest
    rows: np.ndarray  # int64: store rows
    vals: np.ndarray  # float16: activations


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
    n_rows, k = codes_shape(idx, val, n_latents)
    if max_per_feature is not None and max_per_feature < 1:
        raise AnalysisError(
            f"max_per_feature must be at least 1, not {max_per_feature}.",
            "Pass None to keep every activating row.",
        )
    layout = _KeyLayout.fit(n_rows, n_latents)
    step = chunk_step(k, chunk_rows)
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
        raise AnalysisError(
            f"Feature {feature} is outside [0, {n_latents}).", "Pick a feature of this SAE."
        )
    if n_per_quantile < 1 or any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise AnalysisError(
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


def _count_positive(val: np.ndarray, step: int) -> int:
    """How many activations are > 0."""
    return sum(int(np.count_nonzero(bc)) for bc in value_chunks(val, step))


@dataclass(frozen=True)
class _KeyLayout:
    """One int64 sort key per entry: feature, then activation descending, then row."""

    row_bits: int

    @classmethod
    def fit(cls, n_rows: int, n_latents: int) -> _KeyLayout:
        """The layout for this many rows and latents; raises when 63 bits cannot hold it."""
        row_bits = max(1, (n_rows - 1).bit_length())
        if (n_latents - 1).bit_length() + _VAL_BITS + row_bits > 62:
            raise AnalysisError(
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
    for r0, ic, bc in code_chunks(idx, val, n_latents, step):
        bits = bc.reshape(-1)
        keep = bits > 0 if floor is None else bits >= np.take(floor, ic.reshape(-1))
        key = layout.encode(ic, bc, r0, keep, tables)
        if written + key.size > total:
            break
        keys[written : written + key.size] = key
        written += key.size
    if written != total:
        raise AnalysisError(
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
    for _, ic, bc in code_chunks(idx, val, n_latents, step):
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
