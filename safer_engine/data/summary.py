"""Numbers that describe a canonical preference table, for `safer data info`."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class LengthStats:
    """Character lengths of one text column."""

    column: str
    minimum: int
    median: int
    p95: int
    maximum: int


@dataclass(frozen=True)
class DataSummary:
    """Counts by slice and split, distinct texts, and text lengths."""

    counts: list[tuple[str, str, int]]
    distinct_prompts: int
    distinct_responses: int
    lengths: list[LengthStats]


def summarise(table: pl.DataFrame) -> DataSummary:
    counts = table.group_by("slice", "split").len().sort("slice", "split").iter_rows()
    responses = pl.concat([table["chosen"], table["rejected"]]).n_unique()
    return DataSummary(
        counts=[(str(s), str(p), int(n)) for s, p, n in counts],
        distinct_prompts=table["prompt"].n_unique(),
        distinct_responses=responses,
        lengths=[_lengths(table, c) for c in ("prompt", "chosen", "rejected")],
    )


def _lengths(table: pl.DataFrame, column: str) -> LengthStats:
    lengths = table[column].str.len_chars()
    return LengthStats(
        column=column,
        minimum=int(lengths.min()),  # type: ignore[arg-type]
        median=int(lengths.median()),  # type: ignore[arg-type]
        p95=int(lengths.quantile(0.95, interpolation="nearest")),  # type: ignore[arg-type]
        maximum=int(lengths.max()),  # type: ignore[arg-type]
    )
