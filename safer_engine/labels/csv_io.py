"""Feature labels as CSV: export the current state, import rows (every bad row named, and
nothing imported while any row is bad)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safer_engine.errors import WorkspaceError
from safer_engine.files import atomic_file
from safer_engine.labels.fold import TAGS, Label, utc_now

CSV_COLUMNS = ("feature", "tag", "note", "author", "at")


def write_labels_csv(labels: Iterable[Label], path: Path) -> None:
    """Write labels as CSV: a file appears complete or not at all; a pipe, terminal or
    /dev/stdout is written directly, never replaced by a file, and a link to a file stays a
    link (the file it names is replaced)."""
    try:
        if _writes_through(path):
            _write_rows(labels, path)
        else:
            with atomic_file(path.resolve() if path.is_symlink() else path) as partial:
                _write_rows(labels, partial)
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot write {path}: {exc.strerror or exc}.", "Choose a folder you can write."
        ) from exc


def _writes_through(path: Path) -> bool:
    """Pipes, terminals and devices, and names of streams such as /dev/stdout (a link into
    /proc even when the stream is redirected to a file), which must never be replaced."""
    if path.exists() and not path.is_file():
        return True
    streams = ("/dev/", "/proc/")
    if str(path.absolute()).startswith(streams):
        return True
    return path.is_symlink() and os.readlink(path).startswith(streams)


def _write_rows(labels: Iterable[Label], target: Path) -> None:
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for label in labels:
            writer.writerow(
                (label.feature, label.tag or "", label.note or "", label.author, label.at)
            )


@dataclass(frozen=True)
class CsvImport:
    """What an import added: label rows, of which set a tag, cleared one, or set a note."""

    rows: int
    tags: int
    clears: int
    notes: int


def read_labels_csv(
    path: Path, author: str, n_features: int | None = None, sae_id: str = ""
) -> list[tuple[Any, ...]]:
    """Validated (feature, tag, note, author, at) rows from a labels CSV file.

    An empty tag is a clear ("" as the tag); an empty note leaves the note as it is. With
    `n_features`, feature ids at or above it are bad rows. Every bad row is named, by line
    and reason, in one WorkspaceError; then nothing is returned.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or ()
            missing = {"feature", "tag"} - set(header)
            if missing:
                raise WorkspaceError(
                    f"{path} has no {' or '.join(sorted(missing))} column.",
                    "A labels CSV needs the columns feature and tag (optional: note, author, at).",
                )
            rows: list[tuple[Any, ...]] = []
            bad: list[tuple[int, str]] = []
            unknown = False
            first_line: dict[int, int] = {}
            for raw in reader:
                line = reader.line_num
                if not any((value or "").strip() for value in _values(raw)):
                    continue  # a blank row (spreadsheets write ",,,,")
                row = _csv_row(raw, author, len(header), n_features, sae_id)
                if isinstance(row, _BadRow):
                    bad.append((line, row.reason))
                    unknown = unknown or row.unknown_feature
                elif row[0] in first_line:
                    # which of two tags was meant is not ours to guess
                    bad.append(
                        (line, f"feature {row[0]} again (first on line {first_line[row[0]]})")
                    )
                else:
                    first_line[row[0]] = line
                    rows.append(row)
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot read {path}: {exc.strerror or exc}.", "Check the file path."
        ) from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise WorkspaceError(
            f"{path} is not a readable CSV file: {exc}. Nothing was imported.", _HINT_CSV
        ) from exc
    if bad:
        listed = "".join(f"\n  line {line}: {reason}" for line, reason in bad)
        raise WorkspaceError(
            f"{path} has {len(bad):,} bad row(s); nothing was imported:{listed}",
            _bad_rows_hint(n_features, unknown),
        )
    return rows


def summarise_import(rows: list[tuple[Any, ...]]) -> CsvImport:
    return CsvImport(
        rows=len(rows),
        tags=sum(1 for row in rows if row[1]),
        clears=sum(1 for row in rows if row[1] == ""),
        notes=sum(1 for row in rows if row[2] is not None),
    )


_HINT_CSV = "Run `safer labels export --workspace DIR FILE` to see the expected layout."


@dataclass(frozen=True)
class _BadRow:
    reason: str
    unknown_feature: bool = False


def _bad_rows_hint(n_features: int | None, unknown: bool) -> str:
    hint = (
        f"Fix these rows and import again. A tag is one of {', '.join(TAGS)}, or empty to "
        "clear the feature's tag; `at` is an ISO-8601 time or empty."
    )
    if unknown and n_features is not None:
        hint += (
            f" Feature ids run from 0 to {n_features - 1}; pass --allow-unknown to import "
            "tags of features this SAE lacks anyway."
        )
    return hint


def _values(raw: dict[Any, Any]) -> list[str]:
    values: list[str] = []
    for key, value in raw.items():
        if key is None:  # fields beyond the header, as a list
            values.extend(v for v in value if isinstance(v, str))
        elif isinstance(value, str):
            values.append(value)
    return values


def _csv_row(
    raw: dict[Any, Any], author: str, n_columns: int, n_features: int | None, sae_id: str
) -> tuple[Any, ...] | _BadRow:
    """One CSV row as (feature, tag, note, author, at), or why it is bad."""
    extra = raw.get(None)
    if extra:
        return _BadRow(f"{n_columns + len(extra)} fields, but the header has {n_columns}")
    text = (raw.get("feature") or "").strip()
    if not text:
        return _BadRow("no feature id")
    try:
        feature = int(text)
    except ValueError:
        return _BadRow(f"feature {text!r} is not a whole number")
    if feature < 0:
        return _BadRow(f"feature {feature} is negative")
    if n_features is not None and feature >= n_features:
        sae = f"SAE {sae_id}" if sae_id else "the SAE"
        return _BadRow(f"{sae} has no feature {feature} (it has {n_features:,})", True)
    tag = (raw.get("tag") or "").strip()
    if tag and tag not in TAGS:
        return _BadRow(f"unknown tag {tag!r}")
    try:
        at = _csv_time((raw.get("at") or "").strip())
    except ValueError:
        return _BadRow(f"at {raw.get('at')!r} is not an ISO-8601 time")
    note = raw.get("note") or None
    return (feature, tag, note, (raw.get("author") or "").strip() or author, at)


def _csv_time(text: str) -> str:
    """A CSV `at` value as UTC ISO-8601 with microseconds; now when empty (ValueError when
    it is not a time)."""
    if not text:
        return utc_now()
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # exports are UTC; assume the same
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
