"""Streaming over a store's TopK SAE codes in chunks, with the checks every pass shares.

The codes of every stored activation row are `idx` int [n_rows, k] (latent ids) and `val`
float16 [n_rows, k] (activations ≥ 0; zeros are padding and ignored). They may be `np.memmap`s
of 20M × 64, so every pass walks them in chunks of about a million entries: peak memory is
a few small buffers plus the outputs, and no Python loop runs over rows or features.

Activations are handled through their float16 bit patterns (`uint16` views): for values ≥ 0
the bit order is the value order, so maxima, thresholds and sort keys need no float maths.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np

from safer_engine.errors import AnalysisError

CHUNK_ENTRIES = 1 << 20
"""Entries (rows × k) per chunk. Temporaries this small stay in cache and are reused by the
allocator; 1M-row chunks (64M entries) page-fault fresh buffers in and run 5× slower."""
F16_MAX_BITS = 0x7BFF  # bits of 65504, the largest finite float16
NEG_ZERO_BITS = 0x8000
CODES_HINT = "Check that idx and val are the SAE codes of one store, encoded by this SAE."


def codes_shape(idx: np.ndarray, val: np.ndarray, n_latents: int) -> tuple[int, int]:
    """(n_rows, k) of well-formed codes; raises AnalysisError on shapes or dtypes that are not."""
    if n_latents < 1:
        raise AnalysisError(f"n_latents must be at least 1, not {n_latents}.", CODES_HINT)
    if len(idx.shape) != 2:
        raise AnalysisError(f"idx must be 2-D [n_rows, k], not of shape {idx.shape}.", CODES_HINT)
    if tuple(val.shape) != tuple(idx.shape):
        raise AnalysisError(
            f"val has shape {tuple(val.shape)} but idx has {tuple(idx.shape)}; they must match.",
            CODES_HINT,
        )
    if not np.issubdtype(idx.dtype, np.integer):
        raise AnalysisError(f"idx must hold integer latent ids, not {idx.dtype}.", CODES_HINT)
    if val.dtype != np.float16:
        raise AnalysisError(
            f"val must be float16 activations, not {val.dtype}.",
            "Store SAE codes as float16 (`val.astype(np.float16)`).",
        )
    n_rows, k = int(idx.shape[0]), int(idx.shape[1])
    if k < 1:
        raise AnalysisError("idx has no codes per row (k = 0).", CODES_HINT)
    if k > n_latents:
        raise AnalysisError(
            f"k ({k}) is larger than n_latents ({n_latents}).",
            "Pass the n_latents of the SAE that encoded these codes.",
        )
    return n_rows, k


def check_ids(ic: np.ndarray, r0: int, n_latents: int) -> None:
    """Raise if any latent id in this chunk is outside [0, n_latents)."""
    if ic.size == 0 or (ic.min() >= 0 and ic.max() < n_latents):
        return
    flat = int(np.flatnonzero((ic < 0) | (ic >= n_latents))[0])
    raise AnalysisError(
        f"idx has latent id {int(ic.flat[flat])} at row {r0 + flat // ic.shape[1]}, outside "
        f"[0, {n_latents}).",
        "Pass the n_latents of the SAE that encoded these codes.",
    )


def clean_bits(bits: np.ndarray, r0: int) -> np.ndarray:
    """The chunk's float16 bits, with −0.0 made +0.0; raises on NaN, ±inf and negatives."""
    if bits.size == 0 or bits.max() <= F16_MAX_BITS:
        return bits
    bad = (bits > F16_MAX_BITS) & (bits != NEG_ZERO_BITS)
    if bad.any():
        flat = int(np.flatnonzero(bad)[0])
        value = bits.reshape(-1)[flat : flat + 1].view(np.float16)[0]
        kind = "NaN" if np.isnan(value) else "infinite" if np.isinf(value) else "negative"
        raise AnalysisError(
            f"val has a {kind} activation ({value}) at row {r0 + flat // bits.shape[1]}.",
            "SAE codes must be finite and ≥ 0; re-encode the store with a healthy SAE.",
        )
    # −0.0's bits would rank above every positive activation
    return np.where(bits == NEG_ZERO_BITS, np.uint16(0), bits)


def chunk_step(k: int, chunk_rows: int | None) -> int:
    """Rows per chunk: the caller's choice, or about CHUNK_ENTRIES entries."""
    if chunk_rows is None:
        return max(1, CHUNK_ENTRIES // max(k, 1))
    if chunk_rows < 1:
        raise AnalysisError(f"chunk_rows must be at least 1, not {chunk_rows}.", "Pass None.")
    return int(chunk_rows)


def read_rows(array: Any, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of `array` as a fresh array. A whole-file memory map (as
    `memmap_dataset` makes) is read with one plain file read instead: every page a pass
    touches through the map stays in the process's resident set, so one scan over 6 GB of
    codes would show 6 GB resident (reclaimable, but counted, and pushing out other work)."""
    if not (
        isinstance(array, np.memmap)
        and isinstance(array.base, mmap.mmap)  # a slice's offset is not its own
        and array.flags.c_contiguous
        and array.filename
    ):
        return np.asarray(array[start:stop])
    start, stop, _ = slice(start, stop).indices(int(array.shape[0]))
    out = np.empty((max(stop - start, 0), *array.shape[1:]), dtype=array.dtype)
    if out.size == 0:
        return out
    row_bytes = out.itemsize * int(np.prod(array.shape[1:], dtype=np.int64))
    with open(array.filename, "rb") as f:
        f.seek(int(array.offset) + start * row_bytes)
        got = f.readinto(memoryview(out.reshape(-1).view(np.uint8)))
    if got != out.nbytes:
        raise AnalysisError(
            f"{array.filename} ended early: {got:,} of {out.nbytes:,} bytes at row {start:,}.",
            "The file is truncated: run `safer store check`, then extract or encode again.",
        )
    return out


def code_chunks(
    idx: np.ndarray, val: np.ndarray, n_latents: int, step: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first row, checked idx chunk, checked val chunk as uint16 bits) per chunk of rows."""
    for r0 in range(0, int(idx.shape[0]), step):
        ic = read_rows(idx, r0, r0 + step)
        if ic.dtype not in (np.int32, np.int64):
            ic = ic.astype(np.int64)
        check_ids(ic, r0, n_latents)
        yield r0, ic, clean_bits(read_rows(val, r0, r0 + step).view(np.uint16), r0)


def value_chunks(val: np.ndarray, step: int) -> Iterator[np.ndarray]:
    """Checked val chunks as uint16 bits, for passes that need no latent ids."""
    for r0 in range(0, int(val.shape[0]), step):
        yield clean_bits(read_rows(val, r0, r0 + step).view(np.uint16), r0)
