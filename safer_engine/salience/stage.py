"""The salience stage of a workspace: per-feature statistics, the example index and the
salience table, computed from an SAE's codes and the store's pairs.

It reads `codes.h5` and writes `features.h5` and `salience.parquet` beside it, each
complete or not at all, so the codes are never rewritten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.analysis.feature_index import build_feature_index
from safer_engine.analysis.feature_stats import feature_stats
from safer_engine.analysis.salience import salience_table
from safer_engine.codes.reader import CodesReader, sae_files_damage
from safer_engine.codes.writer import write_features
from safer_engine.files import atomic_file
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import SALIENCE

INDEX_ALL_LIMIT = 200_000_000
"""Past this many codes (~2 GiB of index) each feature keeps only its strongest rows."""
TOP_ROWS_KEPT = 4096


@dataclass(frozen=True)
class SalienceResult:
    features: int
    seconds: float


def side_weights(reader: StoreReader, split: str) -> tuple[np.ndarray, np.ndarray]:
    """How often each document is a chosen / rejected response among the split's pairs."""
    codes, names_ = reader.codes("split")
    if split == "all":
        use = np.ones(reader.n_pairs, dtype=bool)
    elif split in names_:
        use = codes == names_.index(split)
    else:
        use = np.zeros(reader.n_pairs, dtype=bool)
    chosen = np.bincount(reader.chosen_doc[use], minlength=reader.n_docs).astype(np.float64)
    rejected = np.bincount(reader.rejected_doc[use], minlength=reader.n_docs).astype(np.float64)
    return chosen, rejected


def compute_salience(
    store_path: Path,
    sae_dir: Path,
    split: str,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> pl.DataFrame:
    """Write `features.h5` and `salience.parquet` from the SAE's codes; return the table."""
    cancel = cancel or CancelToken()
    with StoreReader(store_path) as reader, CodesReader(sae_dir, features=False) as codes:
        cancel.check("feature statistics")
        progress("feature statistics", 0, 2)
        chosen, rejected = side_weights(reader, split)
        stats = feature_stats(
            codes.idx,
            codes.val,
            np.asarray(reader.row_doc),
            np.asarray(reader.selected),
            chosen,
            rejected,
            codes.n_latents,
        )
        cancel.check("feature index")
        progress("feature index", 1, 2)
        # Below the limit every activating row is kept, so quantile samples span all.
        cap = None if codes.idx.size <= INDEX_ALL_LIMIT else TOP_ROWS_KEPT
        index = build_feature_index(codes.idx, codes.val, codes.n_latents, max_per_feature=cap)
        policy = str(reader.h5.attrs.get("policy", ""))
    # Which tokens the selected figures cover, for readers of the table (the explorer says so).
    table = salience_table(stats).with_columns(pl.lit(policy).alias("selection"))
    salience = table.sort("feature")["salience"].to_numpy()
    attrs = {"index_max_per_feature": cap or 0, "salience_split": split}
    cancel.check("feature index")
    write_features(sae_dir / names.FEATURES_FILE, index, stats, salience, attrs)
    with atomic_file(sae_dir / names.SALIENCE_FILE) as partial:
        table.write_parquet(partial)
    progress("feature index", 2, 2)
    return table


def salience_stage_of(workspace: Workspace, sae_id: str, split: str) -> Stage:
    sae_dir = workspace.sae_dir(sae_id)
    made = (names.FEATURES_FILE, names.SALIENCE_FILE)
    return Stage(
        SALIENCE,
        {"split": split},
        workspace.inputs(SALIENCE, sae_id),
        tuple(workspace.relative(sae_dir / name) for name in made),
        sae_id,
    )


def salience_stage(
    workspace: Workspace,
    sae_id: str,
    split: str = "train",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> SalienceResult | None:
    """None when the salience table is up to date with these codes and this split (and the
    feature files still open: damaged ones are written again)."""
    stage = salience_stage_of(workspace, sae_id, split)
    if (
        not force
        and workspace.is_current(stage)
        and sae_files_damage(workspace.sae_dir(sae_id)) is None
    ):
        return None
    started = time.perf_counter()
    table = compute_salience(
        workspace.store_path, workspace.sae_dir(sae_id), split, progress, cancel
    )
    seconds = time.perf_counter() - started
    workspace.record(stage, features=table.height, seconds=round(seconds, 1))
    return SalienceResult(table.height, seconds)
