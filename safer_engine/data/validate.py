"""Find unusable rows, report each with its source row and column, and drop them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from safer_engine.data.readers import ROW
from safer_engine.data.schemas import CANONICAL_TEXT

TEST_SPLIT_NAMES = {"test", "validation", "valid", "val", "dev", "eval", "heldout"}


@dataclass(frozen=True)
class Problem:
    """One row that was skipped or looks wrong; `row` is 1-based in the source."""

    row: int
    column: str
    kind: str
    message: str


@dataclass
class ValidationReport:
    """Everything validation found; `skipped` counts dropped rows by kind."""

    problems: list[Problem] = field(default_factory=list)

    @property
    def skipped(self) -> Counter[str]:
        return Counter(p.kind for p in self.problems if p.kind != "warning")

    def add(self, rows: list[int], column: str, kind: str, message: str) -> None:
        self.problems.extend(Problem(r, column, kind, message) for r in rows)


def _rows(frame: pl.DataFrame, mask: pl.Expr) -> list[int]:
    return frame.filter(mask)[ROW].to_list()


def validate(frame: pl.DataFrame, max_chars: int) -> tuple[pl.DataFrame, ValidationReport]:
    """Drop empty, over-long, identical and duplicate pairs; normalise split names."""
    report = ValidationReport()
    bad = pl.lit(False)
    for column in CANONICAL_TEXT:
        empty = pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        report.add(_rows(frame, empty & ~bad), column, "empty", f"{column} is empty")
        bad = bad | empty
    for column in CANONICAL_TEXT:
        long = pl.col(column).str.len_chars() > max_chars
        over = frame.filter(long & ~bad).select(ROW, pl.col(column).str.len_chars())
        for row, length in over.iter_rows():
            report.add(
                [row],
                column,
                "too_long",
                f"{column} has {length:,} characters, over the limit of {max_chars:,}",
            )
        bad = bad | long
    identical = pl.col("chosen") == pl.col("rejected")
    report.add(
        _rows(frame, identical & ~bad), "chosen", "identical", "chosen is identical to rejected"
    )
    bad = bad | identical
    frame = frame.filter(~bad)
    frame = _drop_duplicates(frame, report)
    return _normalise_split(frame, report), report


def _drop_duplicates(frame: pl.DataFrame, report: ValidationReport) -> pl.DataFrame:
    key = list(CANONICAL_TEXT)
    frame = frame.with_columns(pl.col(ROW).min().over(key).alias("_first"))
    dupes = frame.filter(pl.col(ROW) != pl.col("_first")).select(ROW, "_first")
    for row, first_row in dupes.iter_rows():
        report.add([row], "prompt", "duplicate", f"duplicate of row {first_row}")
    return frame.filter(pl.col(ROW) == pl.col("_first")).drop("_first")


def _normalise_split(frame: pl.DataFrame, report: ValidationReport) -> pl.DataFrame:
    """Map held-out split names to `test`; anything unrecognised is reported and left unset."""
    split = pl.col("split").str.strip_chars().str.to_lowercase()
    normal = (
        pl.when(split == "train")
        .then(pl.lit("train"))
        .when(split.is_in(sorted(TEST_SPLIT_NAMES)))
        .then(pl.lit("test"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )
    unknown = pl.col("split").is_not_null() & normal.is_null()
    for row, value in frame.filter(unknown).select(ROW, "split").iter_rows():
        report.add(
            [row],
            "split",
            "warning",
            f"split {value!r} is neither train nor a test name; the row is re-split",
        )
    return frame.with_columns(normal.alias("split"))
