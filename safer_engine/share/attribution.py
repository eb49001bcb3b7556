"""Each feature's effect on the reward margin, where attribution has measured it.

Attribution (see the design's "what moves the reward") writes one row per feature to
`sae/<id>/attribution/features.parquet`: `feature` and the mean attribution of the feature
to the pair's margin r(chosen) − r(rejected) over the train pairs (`effect_train`), the test
pairs (`effect_test`) and the pairs the reward model orders wrongly (`effect_wrong`). Salience
says where a feature fires; this says how much it moves the reward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from safer_engine.errors import WorkspaceError

ATTRIBUTION_DIR = "attribution"
FEATURES_FILE = "features.parquet"
COLUMNS = ("feature", "effect_train", "effect_test", "effect_wrong")


@dataclass(frozen=True)
class Effect:
    """A feature's mean attribution to the margin, over three sets of pairs."""

    train: float
    test: float
    wrong: float
    """Over the pairs the reward model orders wrongly (NaN when it orders none wrongly)."""


def attribution_path(sae_dir: Path) -> Path:
    return Path(sae_dir) / ATTRIBUTION_DIR / FEATURES_FILE


def read_effects(sae_dir: Path) -> dict[int, Effect] | None:
    """Each feature's effect; None when attribution has not run for this SAE."""
    path = attribution_path(sae_dir)
    if not path.exists():
        return None
    try:
        table = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise WorkspaceError(
            f"The attribution table {path} cannot be read ({exc}).",
            "Run the attribution again, or move the file away to leave effects out.",
        ) from exc
    missing = [name for name in COLUMNS if name not in table.columns]
    if missing:
        raise WorkspaceError(
            f"The attribution table {path} has no column(s) {', '.join(missing)}.",
            "Run the attribution again to rewrite it.",
        )
    rows = table.select(COLUMNS).iter_rows()
    return {
        int(feature): Effect(_number(train), _number(test), _number(wrong))
        for feature, train, test, wrong in rows
    }


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)
