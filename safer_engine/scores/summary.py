"""The pair scores summed up per slice and split, as the command line and the audit report
show them."""

from __future__ import annotations

import polars as pl


def score_distribution(scores: pl.DataFrame) -> pl.DataFrame:
    """Per slice and split: pairs, mean, 10th percentile, median, 90th percentile, and the
    share above 0 (`above`)."""
    return (
        scores.group_by("slice", "split")
        .agg(
            pl.len().alias("pairs"),
            pl.col("score").mean().alias("mean"),
            pl.col("score").quantile(0.1).alias("p10"),
            pl.col("score").median().alias("median"),
            pl.col("score").quantile(0.9).alias("p90"),
            (pl.col("score") > 0).mean().alias("above"),
        )
        .sort("slice", "split")
    )
