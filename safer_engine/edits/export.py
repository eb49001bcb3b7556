"""Exporting edited training data in the schema it came in, with a manifest beside it.

A PKU-SafeRLHF source comes back as PKU-SafeRLHF rows with the preference id swapped for
flipped pairs, HH-RLHF as transcripts, anything else in the canonical schema. Parquet, JSON
lines or a `datasets` `save_to_disk` folder; the same plan exported twice gives the same
bytes, and nothing is overwritten without `force`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from safer_engine import __version__
from safer_engine.data.load import CANONICAL
from safer_engine.edits.apply import apply_plan, flipped_and_removed
from safer_engine.edits.plan import EditPlan
from safer_engine.errors import EditError
from safer_engine.files import atomic_dir, atomic_file, write_text_atomic

FORMATS = ("parquet", "jsonl", "hf")
MANIFEST_SUFFIX = ".manifest.json"
CANONICAL_EXPORT = (*CANONICAL, "source_row")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest: Path
    rows: int
    schema: str
    fingerprint: str


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + MANIFEST_SUFFIX)


def export_format(path: Path) -> str:
    """The format a path asks for: `.parquet`, `.jsonl`, anything else a `datasets` folder."""
    suffix = path.suffix.lower()
    return "parquet" if suffix == ".parquet" else "jsonl" if suffix == ".jsonl" else "hf"


def chosen_format(path: Path, fmt: str | None) -> str:
    """`--format` when given, else what the path's suffix asks for; a format that
    contradicts the suffix (parquet bytes in `x.jsonl`) is refused rather than written."""
    implied = export_format(path)
    if fmt is None:
        return implied
    if fmt not in FORMATS:
        raise EditError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    if implied != fmt and implied != "hf":  # any other name may hold any format
        raise EditError(
            f"--format {fmt} does not match the file name {path.name} (which asks for {implied}).",
            "Leave --format out to follow the file name, or name the file for the format "
            "(.parquet, .jsonl, or a folder for hf).",
        )
    return fmt


def export_plan(
    pairs: pl.DataFrame,
    plan: EditPlan,
    schema: str,
    preference: str,
    out: Path,
    fmt: str,
    force: bool = False,
) -> ExportResult:
    """Write the plan's edited train split to `out` in `fmt`, then its manifest beside it."""
    if fmt not in FORMATS:
        raise EditError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    for path in (out, manifest_path(out)):
        if path.exists() and not force:
            raise EditError(f"{path} already exists.", "Choose another --out, or pass --force.")
    edited = apply_plan(pairs, plan).filter(pl.col("split") == "train")
    flips, _ = flipped_and_removed(plan)
    frame, written_as = in_source_schema(edited, flips, schema, preference)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write(frame, out, fmt)
    fingerprint = output_fingerprint(out)
    manifest = {
        "tool": "safer-explorer",
        "version": __version__,
        "plan": plan.to_dict(),
        "input": {"schema": schema, "fingerprint": plan.data_fingerprint},
        "output": {
            "path": out.name,
            "format": fmt,
            "schema": written_as,
            "rows": frame.height,
            "sha256": fingerprint,
        },
    }
    write_text_atomic(manifest_path(out), json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return ExportResult(out, manifest_path(out), frame.height, written_as, fingerprint)


def in_source_schema(
    edited: pl.DataFrame, flips: set[str], schema: str, preference: str
) -> tuple[pl.DataFrame, str]:
    """The edited rows in the columns of their source (and that schema's name)."""
    flip = pl.col("pair_id").is_in(list(flips))
    own = [c for c in edited.columns if c not in CANONICAL_EXPORT]
    if schema == "PKU-SafeRLHF":
        column = f"{preference}_response_id"
        swapped = (1 - pl.col(column).cast(pl.Int64)).cast(edited.schema[column])
        frame = edited.with_columns(
            pl.when(flip).then(swapped).otherwise(pl.col(column)).alias(column)
        )
        return frame.select("prompt", *own), schema
    if schema == "HH-RLHF":
        frame = edited.with_columns(
            pl.when(flip)
            .then(pl.col("original_rejected"))
            .otherwise(pl.col("original_chosen"))
            .alias("chosen"),
            pl.when(flip)
            .then(pl.col("original_chosen"))
            .otherwise(pl.col("original_rejected"))
            .alias("rejected"),
        )
        rest = [c for c in own if c not in ("original_chosen", "original_rejected")]
        return frame.select("chosen", "rejected", *rest), schema
    present = [c for c in CANONICAL_EXPORT if c in edited.columns]
    return edited.select(present), "canonical"


def output_fingerprint(out: Path) -> str:
    """SHA-256 over the exported bytes (of every file, in name order, for a folder)."""
    digest = hashlib.sha256()
    files = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else [out]
    for path in files:
        digest.update(path.relative_to(out).as_posix().encode() if out.is_dir() else b"")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _write(frame: pl.DataFrame, out: Path, fmt: str) -> None:
    if fmt == "hf":
        with atomic_dir(out) as partial:
            _save_to_disk(frame, partial)
        return
    if out.is_dir():
        shutil.rmtree(out)  # --force over an earlier `hf` export of the same name
    with atomic_file(out) as partial:
        if fmt == "parquet":
            frame.write_parquet(partial, statistics=False)
        else:
            frame.write_ndjson(partial)


def _save_to_disk(frame: pl.DataFrame, folder: Path) -> None:
    """A `datasets` folder whose bytes depend on the data only (its fingerprint included)."""
    from datasets import Dataset

    table = frame.to_arrow()
    fingerprint = hashlib.sha256(frame.write_ndjson().encode("utf-8")).hexdigest()[:16]
    Dataset(_plain(table), fingerprint=fingerprint).save_to_disk(str(folder))


def _plain(table: Any) -> Any:
    """Large string columns as plain strings, which `datasets` expects."""
    import pyarrow as pa

    fields = [
        pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))
