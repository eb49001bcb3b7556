"""Per-feature index, statistics and salience, computed from fresh codes before they land.

Runs on the `.partial` codes file right after encoding, so `codes.h5` appears complete
(codes, CSR index, statistics) or not at all; the salience table goes to parquet beside it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from safer_engine.analysis.features import FeatureStats, build_feature_index, feature_stats
from safer_engine.analysis.salience import salience_table
from safer_engine.progress import CancelToken, Progress
from safer_engine.store.reader import StoreReader, memmap_dataset
from safer_engine.store.schema import ALIGNED

INDEX_ALL_LIMIT = 200_000_000
TOP_ROWS_KEPT = 4096
STAT_FIELDS = (
    "sum_chosen",
    "sum_rejected",
    "fires_chosen",
    "fires_rejected",
    "max_act",
    "density",
    "hist",
    "hist_edges",
)


def side_weights(reader: StoreReader, split: str) -> tuple[np.ndarray, np.ndarray]:
    """How often each document is a chosen / rejected response among the split's pairs."""
    codes, names = reader.codes("split")
    use = (
        np.ones(reader.n_pairs, dtype=bool)
        if split == "all"
        else (codes == names.index(split) if split in names else np.zeros(reader.n_pairs, bool))
    )
    chosen = np.bincount(reader.chosen_doc[use], minlength=reader.n_docs).astype(np.float64)
    rejected = np.bincount(reader.rejected_doc[use], minlength=reader.n_docs).astype(np.float64)
    return chosen, rejected


def add_features(
    codes_path: Path, reader: StoreReader, split: str, progress: Progress, cancel: CancelToken
) -> pl.DataFrame:
    """Write `by_feature/*` and `stats/*` into the codes file; return the salience table."""
    import h5py

    with h5py.File(codes_path, "r+", **ALIGNED) as f:
        n_latents = int(f.attrs["n_latents"])
        idx = memmap_dataset(codes_path, f["codes_idx"])
        val = memmap_dataset(codes_path, f["codes_val"])
        cancel.check("feature statistics")
        progress("feature statistics", 0, 2)
        chosen, rejected = side_weights(reader, split)
        stats = feature_stats(
            idx,
            val,
            np.asarray(reader.row_doc),
            np.asarray(reader.selected),
            chosen,
            rejected,
            n_latents,
        )
        cancel.check("feature index")
        progress("feature index", 1, 2)
        # Past ~2 GiB of index, keep each feature's strongest rows only (the explorer shows a
        # few hundred); below that, every activating row, so quantile samples span all.
        cap = None if idx.size <= INDEX_ALL_LIMIT else TOP_ROWS_KEPT
        offsets, rows, vals = build_feature_index(idx, val, n_latents, max_per_feature=cap)
        f.attrs["index_max_per_feature"] = cap or 0
        for name, data in (("offsets", offsets), ("rows", rows), ("vals", vals)):
            f.create_dataset(f"by_feature/{name}", data=data)
        _write_stats(f, stats)
        f.attrs["salience_split"] = split
        table = salience_table(stats)
        f.create_dataset(
            "stats/salience", data=table.sort("feature")["salience"].to_numpy().astype(np.float32)
        )
    return table


def _write_stats(f: object, stats: FeatureStats) -> None:
    for name in STAT_FIELDS:
        f.create_dataset(f"stats/{name}", data=getattr(stats, name))  # type: ignore[attr-defined]
    f.attrs["tokens_chosen"] = stats.tokens_chosen  # type: ignore[attr-defined]
    f.attrs["tokens_rejected"] = stats.tokens_rejected  # type: ignore[attr-defined]
