"""Recognise a preference table's schema by its columns and map it to canonical columns.

Canonical columns added by every schema: `prompt`, `chosen`, `rejected` (text), `slice`
and `split` (text or null). Original columns stay; one whose name is canonical but whose
values were transformed is kept as `original_<name>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from safer_engine.config import DataConfig
from safer_engine.data.readers import ROW
from safer_engine.data.rewardbench import SUBSET_TO_SECTION
from safer_engine.errors import SchemaError

CANONICAL_TEXT = ("prompt", "chosen", "rejected")
DEFAULT_SLICE = "all"

HH_ASSISTANT = "\n\nAssistant:"


@dataclass(frozen=True)
class Schema:
    """A known layout of preference data."""

    name: str
    required: tuple[str, ...]
    normalise: Callable[[pl.DataFrame, DataConfig], pl.DataFrame]

    def matches(self, columns: set[str]) -> bool:
        return set(self.required) <= columns


def _text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Utf8)


def _slice_and_split(frame: pl.DataFrame, slice_expr: pl.Expr) -> list[pl.Expr]:
    split = _text("split") if "split" in frame.columns else pl.lit(None, dtype=pl.Utf8)
    return [slice_expr.alias("slice"), split.alias("split")]


def _keep_original(frame: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    present = {n: f"original_{n}" for n in names if n in frame.columns}
    return frame.rename(present)


def _normalise_pku(frame: pl.DataFrame, config: DataConfig) -> pl.DataFrame:
    id_column = f"{config.preference}_response_id"
    if id_column not in frame.columns:
        raise SchemaError(
            f"PKU-SafeRLHF data without {id_column}, needed for preference {config.preference!r}.",
            "Choose the other preference (--preference) or add the column.",
        )
    first = pl.col(id_column).cast(pl.Int64) == 0
    flags = {"is_response_0_safe", "is_response_1_safe"}
    if flags <= set(frame.columns):
        differ = pl.col("is_response_0_safe") != pl.col("is_response_1_safe")
        slice_expr = pl.when(differ).then(pl.lit("safety")).otherwise(pl.lit("general"))
    else:
        slice_expr = pl.lit(DEFAULT_SLICE)
    return frame.with_columns(
        _text("prompt"),
        pl.when(first).then(_text("response_0")).otherwise(_text("response_1")).alias("chosen"),
        pl.when(first).then(_text("response_1")).otherwise(_text("response_0")).alias("rejected"),
        *_slice_and_split(frame, slice_expr),
    )


def split_hh_transcript(transcript: str | None) -> tuple[str, str] | None:
    """Split an HH-RLHF transcript into (conversation so far, final assistant answer)."""
    if transcript is None:
        return None
    cut = transcript.rfind(HH_ASSISTANT)
    if cut < 0:
        return None
    return transcript[:cut].strip(), transcript[cut + len(HH_ASSISTANT) :].strip()


def _normalise_hh(frame: pl.DataFrame, config: DataConfig) -> pl.DataFrame:
    chosen = [split_hh_transcript(t) for t in frame["chosen"].cast(pl.Utf8).to_list()]
    rejected = [split_hh_transcript(t) for t in frame["rejected"].cast(pl.Utf8).to_list()]
    # A row whose two transcripts disagree before the final answer has no single prompt;
    # it gets a null prompt and is reported by validation.
    prompts = [
        c[0] if c and r and c[0] == r[0] else None for c, r in zip(chosen, rejected, strict=True)
    ]
    frame = _keep_original(frame, ("chosen", "rejected"))
    return frame.with_columns(
        pl.Series("prompt", prompts, dtype=pl.Utf8),
        pl.Series("chosen", [c[1] if c else None for c in chosen], dtype=pl.Utf8),
        pl.Series("rejected", [r[1] if r else None for r in rejected], dtype=pl.Utf8),
        *_slice_and_split(frame, pl.lit(DEFAULT_SLICE)),
    )


def _normalise_rewardbench(frame: pl.DataFrame, config: DataConfig) -> pl.DataFrame:
    section = _text("subset").replace_strict(SUBSET_TO_SECTION, default="other")
    return frame.with_columns(
        *(_text(c) for c in CANONICAL_TEXT), *_slice_and_split(frame, section)
    )


def _normalise_generic(frame: pl.DataFrame, config: DataConfig) -> pl.DataFrame:
    slice_expr = _text("slice") if "slice" in frame.columns else pl.lit(DEFAULT_SLICE)
    return frame.with_columns(
        *(_text(c) for c in CANONICAL_TEXT), *_slice_and_split(frame, slice_expr)
    )


PKU = Schema("PKU-SafeRLHF", ("prompt", "response_0", "response_1"), _normalise_pku)
REWARDBENCH = Schema(
    "RewardBench", ("prompt", "chosen", "rejected", "subset"), _normalise_rewardbench
)
GENERIC = Schema("generic prompt/chosen/rejected", CANONICAL_TEXT, _normalise_generic)
HH = Schema("HH-RLHF", ("chosen", "rejected"), _normalise_hh)
# Most specific first: RewardBench and generic both have prompt/chosen/rejected, and HH is
# what remains when there is no prompt column.
SCHEMAS = (PKU, REWARDBENCH, GENERIC, HH)


def apply_column_mapping(frame: pl.DataFrame, config: DataConfig) -> pl.DataFrame:
    """Rename user-mapped source columns to canonical names (`--columns`)."""
    missing = [src for src in config.columns.values() if src not in frame.columns]
    if missing:
        raise SchemaError(
            f"--columns names column(s) {', '.join(missing)}, which the data does not have.",
            f"Columns seen: {', '.join(c for c in frame.columns if c != ROW)}.",
        )
    mapped = {src: dst for dst, src in config.columns.items() if src != dst}
    frame = _keep_original(frame, tuple(d for d in mapped.values() if d in frame.columns))
    return frame.rename(mapped)


def recognise(frame: pl.DataFrame) -> Schema:
    """The first schema whose required columns are all present, or a `SchemaError`."""
    columns = set(frame.columns)
    for schema in SCHEMAS:
        if schema.matches(columns):
            return schema
    seen = ", ".join(c for c in frame.columns if c != ROW) or "(none)"
    closest = max(SCHEMAS, key=lambda s: len(set(s.required) & columns) / len(s.required))
    near = ""
    if set(closest.required) & columns:  # name a near miss only when it is one
        lacking = ", ".join(c for c in closest.required if c not in columns)
        near = f" Closest is {closest.name}, which lacks {lacking}."
    expected = "; ".join(f"{s.name}: {', '.join(s.required)}" for s in SCHEMAS)
    raise SchemaError(
        f"Unknown preference-data schema. Columns seen: {seen}.{near}\n"
        f"Expected one of — {expected}.",
        "Map your columns, e.g. --columns prompt=question,chosen=good,rejected=bad",
    )
