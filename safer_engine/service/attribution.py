"""The attribution stage's tables as the explorer reads them: each feature's effect, each
pair's driving features, each example's attribution, and the test pairs the reward model
orders wrong, with whether ablation confirmed the attributions (torch-free: polars only)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from safer_engine.attribution.files import (
    AGREEMENT,
    feature_text_attributions,
    has_attribution,
    read_ablation,
    read_effects,
    read_pairs,
)

DRIVERS = 5
"""Features listed as driving a pair's margin."""
CHECK_HINT = "safer attribute --workspace DIR --check 200"


@dataclass(frozen=True)
class Trust:
    """Whether attributions may be shown as explanations: only when an ablation check
    agreed with them."""

    checked: bool
    spearman: float | None = None

    @property
    def agrees(self) -> bool:
        return self.checked and self.spearman is not None and self.spearman >= AGREEMENT

    def describe(self) -> str:
        if not self.checked:
            return f"not checked by ablation ({CHECK_HINT})"
        verdict = "agrees with" if self.agrees else "disagrees with"
        return f"{verdict} ablation (Spearman {self.spearman:.2f})"


@dataclass(frozen=True)
class PairDrivers:
    """What moves one pair's margin: its top features by |attribution| (signed: + pushes
    toward chosen), and the SAE error's share of the pair's attribution."""

    pair_id: str
    margin: float
    drivers: tuple[tuple[int, float], ...]
    error: float
    error_share: float


class Attributions:
    """One SAE's attributions, read on first use (from any worker thread, once)."""

    def __init__(self, sae_dir: Path) -> None:
        self.sae_dir = sae_dir
        self._pairs: pl.DataFrame | None = None
        self._lock = threading.Lock()

    @property
    def exists(self) -> bool:
        return has_attribution(self.sae_dir)

    def trust(self) -> Trust:
        check = read_ablation(self.sae_dir)
        if check is None:
            return Trust(False)
        return Trust(True, float(check["spearman"]))

    def with_effects(self, features: pl.DataFrame) -> pl.DataFrame:
        """The feature table with an `effect` column (mean attribution to the margin over
        train pairs) when attributions exist."""
        if not self.exists:
            return features
        effects = read_effects(self.sae_dir).select(
            "feature", pl.col("effect_train").alias("effect")
        )
        joined = features.join(effects, on="feature", how="left")
        return joined.with_columns(pl.col("effect").fill_null(0.0))

    def pairs(self) -> pl.DataFrame:
        with self._lock:
            if self._pairs is None:
                self._pairs = read_pairs(self.sae_dir)
            return self._pairs

    def drivers(self, pair_id: str) -> PairDrivers | None:
        if not self.exists:
            return None
        rows = self.pairs().filter(pl.col("pair_id") == pair_id)
        if rows.is_empty():
            return None
        row = rows.row(0, named=True)
        top = list(zip(row["top_feature"], row["top_attribution"], strict=True))[:DRIVERS]
        return PairDrivers(
            pair_id,
            float(row["margin"]),
            tuple((int(f), float(a)) for f, a in top),
            float(row["error"]),
            float(row["error_share"]),
        )

    def mistakes(self) -> np.ndarray:
        """The test pairs the reward model orders wrong (margin ≤ 0), most wrong first, as
        pair numbers (the store's order, which the pairs table keeps)."""
        if not self.exists:
            return np.zeros(0, dtype=np.int64)
        table = self.pairs().with_row_index("pair")
        wrong = table.filter((pl.col("split") == "test") & (pl.col("margin") <= 0))
        return wrong.sort("margin", "pair")["pair"].to_numpy().astype(np.int64)

    def of_feature(self, feature: int) -> dict[int, float]:
        """Text (store document) → the feature's attribution to that text's reward."""
        if not self.exists:
            return {}
        return feature_text_attributions(self.sae_dir, feature)
