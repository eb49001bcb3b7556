"""Feature labels as CSV: export the current state, import rows (every bad row named)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from safer_engine.errors import WorkspaceError
from safer_engine.files import atomic_file
from safer_engine.labels.fold import Label, check_feature, check_tag, utc_now

CSV_COLUMNS = ("feature", "tag", "note", "author", "at")


def write_labels_csv(labels: Iterable[Label], path: Path) -> None:
    """Write labels as CSV: a file appears complete or not at all; a pipe, terminal or
    /dev/stdout is written directly, never replaced by a file."""
    try:
        if path.exists() and not path.is_file():
            _write_rows(labels, path)
        else:
            with atomic_file(path) as partial:
                _write_rows(labels, partial)
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot write {path}: {exc.strerror or exc}.", "Choose a folder you can write."
        ) from exc


def _write_rows(labels: Iterable[Label], target: Path) -> None:
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for label in labels:
            writer.writerow(
                (label.feature, label.tag or "", label.note or "", label.author, label.at)
            )


def read_labels_csv(path: Path, author: str) -> list[tuple[Any, ...]]:
    """Validated (feature, tag, note, author, at) rows from a labels CSV file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"feature", "tag"} - set(reader.fieldnames or ())
            if missing:
                raise WorkspaceError(
                    f"{path} has no {' or '.join(sorted(missing))} column.",
                    "A labels CSV needs the columns feature and tag (optional: note, author, at).",
                )
            rows = [_csv_row(path, reader.line_num, raw, author) for raw in reader]
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot read {path}: {exc.strerror or exc}.", "Check the file path."
        ) from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path} is not a readable CSV file: {exc}.", _HINT_CSV) from exc
    # A row with neither tag nor note would change nothing.
    return [row for row in rows if row[1] is not None or row[2] is not None]


_HINT_CSV = "Run `safer labels export --workspace DIR FILE` to see the expected layout."


def _csv_row(path: Path, line: int, raw: dict[str, Any], author: str) -> tuple[Any, ...]:
    """One CSV row as (feature, tag, note, author, at), or a WorkspaceError naming its line."""
    try:
        feature = check_feature(int((raw.get("feature") or "").strip()))
        tag = check_tag((raw.get("tag") or "").strip()) or None
        at = _csv_time((raw.get("at") or "").strip())
    except (ValueError, WorkspaceError) as exc:
        reason = exc.message if isinstance(exc, WorkspaceError) else "feature is not a number"
        hint = exc.hint if isinstance(exc, WorkspaceError) else _HINT_CSV
        raise WorkspaceError(f"{path}, line {line}: {reason} Nothing was imported.", hint) from exc
    note = raw.get("note") or None
    return (feature, tag, note, (raw.get("author") or "").strip() or author, at)


def _csv_time(text: str) -> str:
    """A CSV `at` value as UTC ISO-8601 with microseconds; now when empty."""
    if not text:
        return utc_now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WorkspaceError(f"at {text!r} is not an ISO-8601 time.", _HINT_CSV) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # exports are UTC; assume the same
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
