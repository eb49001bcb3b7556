"""SAFER feature salience: which SAE features separate chosen from rejected responses.

Paper (arXiv 2507.00665): with A_c(j), A_r(j) the summed activations of feature j over the
selected tokens of all chosen / rejected responses and m the mean of all 2·n_latents sums,
s_j = (A_c − A_r) / (A_c + A_r + 2m). Features are ranked by |s_j|; s_j > 0 leans safe (the
feature fires on chosen responses). Per-token rates sit beside it so that long responses
cannot dominate a ranking by sums, and the same sums and rates over EVERY stored token
(`*_all`) beside those, since the selection (sentence ends by default) can miss where a
feature fires. The token totals each rate divides by are columns too (one value repeated).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from safer_engine.analysis.feature_stats import FeatureStats
from safer_engine.errors import AnalysisError


def salience_table(stats: FeatureStats) -> pl.DataFrame:
    """One row per feature with its salience, rank and rates, sorted by rank (1 = top |s|)."""
    s = salience(stats.sum_chosen, stats.sum_rejected)
    order = np.lexsort((np.arange(s.shape[0]), -np.abs(s)))
    rank = np.empty(s.shape[0], dtype=np.int64)
    rank[order] = np.arange(1, s.shape[0] + 1)
    act_c = _rate(stats.sum_chosen, stats.tokens_chosen)
    act_r = _rate(stats.sum_rejected, stats.tokens_rejected)
    fire_c = _rate(stats.fires_chosen, stats.tokens_chosen)
    fire_r = _rate(stats.fires_rejected, stats.tokens_rejected)
    n = s.shape[0]
    columns = {
        "feature": np.arange(s.shape[0], dtype=np.int64),
        "salience": s,
        "abs_salience": np.abs(s),
        "rank": rank,
        "sign": np.where(s > 0, "safe", np.where(s < 0, "unsafe", "none")),
        "sum_chosen": stats.sum_chosen,
        "sum_rejected": stats.sum_rejected,
        "mean_act_chosen": act_c,
        "mean_act_rejected": act_r,
        "mean_act_diff": act_c - act_r,
        "fire_rate_chosen": fire_c,
        "fire_rate_rejected": fire_r,
        "firing_rate_diff": fire_c - fire_r,
        "max_act": stats.max_act,
        "density": stats.density,
        "sum_chosen_all": stats.sum_chosen_all,
        "sum_rejected_all": stats.sum_rejected_all,
        "mean_act_chosen_all": _rate(stats.sum_chosen_all, stats.tokens_chosen_all),
        "mean_act_rejected_all": _rate(stats.sum_rejected_all, stats.tokens_rejected_all),
        "fire_rate_chosen_all": _rate(stats.fires_chosen_all, stats.tokens_chosen_all),
        "fire_rate_rejected_all": _rate(stats.fires_rejected_all, stats.tokens_rejected_all),
        "tokens_chosen": np.full(n, stats.tokens_chosen),
        "tokens_rejected": np.full(n, stats.tokens_rejected),
        "tokens_chosen_all": np.full(n, stats.tokens_chosen_all),
        "tokens_rejected_all": np.full(n, stats.tokens_rejected_all),
    }
    return pl.DataFrame({name: values[order] for name, values in columns.items()})


def salience(sum_chosen: np.ndarray, sum_rejected: np.ndarray) -> np.ndarray:
    """The paper's s_j for every feature (0 where no feature ever fires)."""
    if sum_chosen.shape != sum_rejected.shape or sum_chosen.ndim != 1:
        raise AnalysisError(
            f"sum_chosen {sum_chosen.shape} and sum_rejected {sum_rejected.shape} must be "
            "1-D of one length (n_latents).",
            "Compute both with `feature_stats` on one store.",
        )
    a_c = np.asarray(sum_chosen, dtype=np.float64)
    a_r = np.asarray(sum_rejected, dtype=np.float64)
    if not (np.isfinite(a_c).all() and np.isfinite(a_r).all()):
        raise AnalysisError("Activation sums hold NaN or infinite values.", "Recompute the stats.")
    m = (a_c.sum() + a_r.sum()) / max(2 * a_c.shape[0], 1)
    denom = a_c + a_r + 2 * m
    # denom is 0 only when nothing fires anywhere; such features have no lean
    return np.divide(a_c - a_r, denom, out=np.zeros_like(a_c), where=denom > 0)


def top_candidates(table: pl.DataFrame, n: int = 256) -> pl.DataFrame:
    """The n features of highest |salience| (by rank); features that never lean are left out."""
    if n < 0:
        raise AnalysisError(f"n must be ≥ 0, not {n}.", "Ask for a number of features.")
    missing = {"rank", "sign"} - set(table.columns)
    if missing:
        raise AnalysisError(
            f"The table lacks the columns {sorted(missing)}.",
            "Pass the table made by `salience_table`.",
        )
    return table.filter(pl.col("sign") != "none").sort("rank").head(n)


def _rate(total: np.ndarray, tokens: float) -> np.ndarray:
    """Per-token rate; 0 when there are no tokens on that side."""
    return total / tokens if tokens > 0 else np.zeros_like(total, dtype=np.float64)
