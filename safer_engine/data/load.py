"""The data stage: read a source, recognise its schema, validate, split, identify."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from safer_engine.config import DataConfig
from safer_engine.data.fingerprint import table_fingerprint, with_pair_ids
from safer_engine.data.readers import read_source
from safer_engine.data.schemas import apply_column_mapping, recognise
from safer_engine.data.split import assign_splits, prompts_in_both_splits
from safer_engine.data.validate import ValidationReport, validate
from safer_engine.errors import DataError, SchemaError
from safer_engine.files import atomic_file
from safer_engine.progress import CancelToken, Progress, no_progress

CANONICAL = ("pair_id", "prompt", "chosen", "rejected", "slice", "split", "source")
STEPS = ("read", "recognise", "validate", "split", "identify")


@dataclass(frozen=True)
class PreferenceData:
    """A canonical preference table and how it was obtained."""

    table: pl.DataFrame
    schema: str
    origin: str
    config: DataConfig
    report: ValidationReport
    fingerprint: str
    rows_read: int

    @property
    def leaked_prompts(self) -> list[str]:
        return prompts_in_both_splits(self.table)


def load_preferences(
    config: DataConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> PreferenceData:
    """Load `config.source` into the canonical table: pair_id, prompt, chosen, rejected,
    slice, split, source, then the source's own columns."""
    cancel = cancel or CancelToken()
    progress(STEPS[0], 0, len(STEPS))
    raw = read_source(config.source, config.hub_split)
    cancel.check("loading data")
    progress(STEPS[1], 1, len(STEPS))
    frame = apply_column_mapping(raw.frame, config)
    schema = recognise(frame)
    _require_text(frame, (*schema.required, "slice", "split"), raw.origin)
    frame = schema.normalise(frame, config).with_columns(pl.col("slice").fill_null("all"))
    cancel.check("loading data")
    progress(STEPS[2], 2, len(STEPS))
    frame, report = validate(frame, config.max_chars)
    if frame.height == 0:
        raise DataError(
            f"{raw.origin}: none of its {raw.frame.height} rows is a usable pair "
            f"({_describe(report)}).",
            "Run `safer data info` on it to see the rows and columns at fault.",
        )
    progress(STEPS[3], 3, len(STEPS))
    frame = assign_splits(frame, config.test_fraction, config.seed)
    progress(STEPS[4], 4, len(STEPS))
    frame = with_pair_ids(frame)
    if "source" not in frame.columns:
        frame = frame.with_columns(pl.lit(raw.origin).alias("source"))
    rest = [c for c in frame.columns if c not in CANONICAL]
    table = frame.select(*CANONICAL, *rest)
    progress("pairs ready", len(STEPS), len(STEPS))
    return PreferenceData(
        table=table,
        schema=schema.name,
        origin=raw.origin,
        config=config,
        report=report,
        fingerprint=table_fingerprint(table),
        rows_read=raw.frame.height,
    )


def _require_text(frame: pl.DataFrame, columns: tuple[str, ...], origin: str) -> None:
    """Name the column whose values cannot be read as text (e.g. message lists)."""
    for column in columns:
        dtype = frame.schema.get(column)
        if dtype is not None and dtype.is_nested():
            raise SchemaError(
                f"{origin}: column {column} holds {dtype} values, not text (conversational "
                "message lists are not supported).",
                "Flatten each conversation to text, or map another column with --columns.",
            )


def _describe(report: ValidationReport) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in report.skipped.most_common()) or "none"


def save_table(table: pl.DataFrame, path: Path) -> None:
    """Write the canonical table as parquet via a temporary file, so a crash leaves none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as partial:
        table.write_parquet(partial)
