"""Attributions of a synthetic workspace, made up from a seed: for the explorer's tests.

A synthetic workspace has no reward model to run, so its texts' rewards and the features'
attributions to them are drawn at random (a few features per text, from the ones its SAE
has), and the project's REAL tables and writer (`build_tables`, `save_tables`) turn them into
the folder `safer attribute` writes. Same seed, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.attribution.decompose import TextAttributions
from safer_engine.attribution.files import attribution_dir
from safer_engine.attribution.tables import build_tables, save_tables
from safer_engine.attribution.texts import Attributed
from safer_engine.config import AttributionConfig
from safer_engine.files import write_text_atomic
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace

PER_TEXT = 6
"""Features attributed in each text."""


def write_synthetic_attribution(root: Path, seed: int = 0, spearman: float | None = None) -> Path:
    """Write `sae/<id>/attribution/` for the workspace's last SAE; `spearman` adds an
    ablation check that reports that agreement. Returns the folder."""
    workspace = Workspace.open(root)
    sae_dir = workspace.sae_dir(workspace.sae_ids()[-1])
    width = pl.read_parquet(sae_dir / names.SALIENCE_FILE, columns=["feature"]).height
    rng = np.random.default_rng(seed)
    with StoreReader(workspace.store_path) as reader:
        texts = reader.n_docs
        features = np.stack([rng.choice(width, PER_TEXT, replace=False) for _ in range(texts)])
        features.sort(axis=1)
        attributed = Attributed(
            reward=rng.normal(1.0, 2.0, texts),
            texts=TextAttributions(
                error=rng.normal(0.0, 0.02, texts),
                rest=rng.normal(0.0, 0.5, texts),
                offsets=np.arange(0, texts * PER_TEXT + 1, PER_TEXT, dtype=np.int64),
                feature=features.ravel().astype(np.int32),
                value=rng.normal(0.0, 0.05, texts * PER_TEXT).astype(np.float32),
            ),
        )
        config = AttributionConfig()
        tables = build_tables(attributed, reader, width, config.pair_top)
    folder = attribution_dir(sae_dir)
    summary = {"config": config.to_dict(), "texts": texts, "synthetic_seed": seed}
    save_tables(folder, tables, {**summary, "faithfulness": tables.faithfulness.to_dict()}, config)
    if spearman is not None:
        check = {"pairs": 10, "features": 50, "spearman": spearman, "synthetic_seed": seed}
        write_text_atomic(folder / names.ABLATION_SUMMARY, json.dumps(check, indent=2) + "\n")
    return folder
