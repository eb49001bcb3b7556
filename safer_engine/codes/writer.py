"""Write an SAE's codes file (from one writer's chunks) and feature file, each complete or
not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.analysis.feature_stats import FeatureStats
from safer_engine.codes import schema
from safer_engine.codes.parts import (
    CodesLayout,
    CodesParts,
    discard_parts,
    finish_parts,
    prepare_parts,
)
from safer_engine.files import atomic_file
from safer_engine.store.schema import ALIGNED

Codes = Iterator[tuple[slice, np.ndarray, np.ndarray]]
"""Row ranges of the store with their codes: (rows, idx int32 [n, k], val float16 [n, k])."""


def write_codes(
    target: Path, n_rows: int, n_latents: int, k: int, attrs: dict[str, Any], codes: Codes
) -> None:
    """`codes.h5` from chunks of codes covering rows 0..n_rows, through the encode stage's
    writer in one part; a failure leaves no partial file behind."""
    layout = CodesLayout(n_rows, k, n_latents, max(n_rows, 1))
    prepare_parts(target, layout, attrs, {"writer": "write_codes"})
    parts = CodesParts(target, layout)
    try:
        for rows, chunk_idx, chunk_val in codes:
            parts.write(rows.start, chunk_idx, chunk_val)
        parts.mark_done(0)
    except BaseException:
        parts.close()
        discard_parts(target)
        raise
    parts.close()
    finish_parts(target)


def write_features(
    target: Path,
    index: tuple[np.ndarray, np.ndarray, np.ndarray],
    stats: FeatureStats,
    salience: np.ndarray,
    attrs: dict[str, Any],
) -> None:
    """`features.h5`: the example index (offsets, rows, vals), statistics and salience."""
    import h5py

    with atomic_file(target) as partial, h5py.File(partial, "w", **ALIGNED) as f:
        for name, data in zip((schema.OFFSETS, schema.ROWS, schema.VALS), index, strict=True):
            f.create_dataset(name, data=data)
        for name in schema.STAT_FIELDS:
            f.create_dataset(schema.stat(name), data=getattr(stats, name))
        f.create_dataset(schema.SALIENCE, data=salience.astype(np.float32))
        for side in ("chosen", "rejected"):
            f.attrs[f"tokens_{side}"] = getattr(stats, f"tokens_{side}")
            f.attrs[f"tokens_{side}_all"] = getattr(stats, f"tokens_{side}_all")
        for key, value in attrs.items():
            f.attrs[key] = value
