"""Reading `sae/<id>/attribution/`: what the explorer, the selection and the report need,
with polars alone (no torch), so the explorer reads it on machines without a GPU stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from safer_engine import artifacts as names

AGREEMENT = 0.7
"""The Spearman correlation (attribution against ablation) below which attributions are not
shown as explanations."""


def attribution_dir(sae_dir: Path) -> Path:
    return sae_dir / names.ATTRIBUTION_DIR


def has_attribution(sae_dir: Path) -> bool:
    return (attribution_dir(sae_dir) / names.ATTRIBUTION_SUMMARY).exists()


def read_summary(sae_dir: Path) -> dict[str, Any]:
    path = attribution_dir(sae_dir) / names.ATTRIBUTION_SUMMARY
    return dict(json.loads(path.read_text(encoding="utf-8")))


def read_effects(sae_dir: Path) -> pl.DataFrame:
    """`feature`, `effect_train`, `effect_test`, `effect_wrong` (mean attribution to the
    margin over those pairs) and `direction` (mean attribution to the reward of the train
    texts the feature fires on)."""
    return pl.read_parquet(attribution_dir(sae_dir) / names.ATTRIBUTION_FEATURES)


def read_pairs(sae_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(attribution_dir(sae_dir) / names.ATTRIBUTION_PAIRS)


def feature_text_attributions(sae_dir: Path, feature: int) -> dict[int, float]:
    """Text (store document) → this feature's attribution to the text's reward."""
    path = attribution_dir(sae_dir) / names.ATTRIBUTION_TEXTS
    rows = pl.scan_parquet(path).filter(pl.col("feature") == feature).collect()
    return dict(zip(rows["doc"].to_list(), rows["attribution"].to_list(), strict=True))


def read_ablation(sae_dir: Path) -> dict[str, Any] | None:
    """The ablation check's figures, when `safer attribute --check` ran on these
    attributions."""
    path = attribution_dir(sae_dir) / names.ABLATION_SUMMARY
    if not path.exists():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8")))
