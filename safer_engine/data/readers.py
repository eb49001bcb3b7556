"""Read a preference data source into a raw polars table, whatever its container.

Files: jsonl, json, csv/tsv, parquet, arrow; folders written by `datasets.save_to_disk`;
anything else that does not exist locally is tried as a hub id through `datasets`.
Every row gets `source_row`, its 1-based position in the source, so problems can name it.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from safer_engine.errors import DataError
from safer_engine.hub import check_hub, hub_host, quiet_hub_logs

ROW = "source_row"
TEXT_SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv", ".tsv"}
SUFFIXES = TEXT_SUFFIXES | {".parquet", ".arrow", ".feather", ".ipc"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
DATASETS_FOLDER_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


@dataclass(frozen=True)
class RawTable:
    """A source read as-is: its rows, and where they came from."""

    frame: pl.DataFrame
    origin: str


def read_source(source: str, hub_split: str | None = None) -> RawTable:
    """Read `source` (path or hub id) into a table with a `source_row` column."""
    path = Path(source).expanduser()
    if path.is_dir():
        frame = _read_datasets_folder(path)
    elif path.is_file():
        frame = _read_file(path)
    elif HUB_ID.match(source) and not source.endswith(tuple(SUFFIXES)):
        frame = _read_hub(source, hub_split)
    else:
        raise DataError(
            f"{source}: no such file or folder.",
            "Check the path, or give a hub id such as PKU-Alignment/PKU-SafeRLHF.",
        )
    if frame.height == 0:
        raise DataError(f"{source}: the data set has no rows.", "Point to a file with data rows.")
    return RawTable(frame.with_row_index(ROW, offset=1), origin=_origin(source, path))


def _origin(source: str, path: Path) -> str:
    return path.name if path.exists() else source


def _read_file(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix or '(none)'}.",
            f"Use one of: {', '.join(sorted(SUFFIXES))}, or a datasets save_to_disk folder.",
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty.", "Point to a file with data rows.")
    if suffix in TEXT_SUFFIXES:
        text = _decode_utf8(path)
        if not text.strip():
            raise DataError(f"{path}: the file holds only whitespace.", "Point to a data file.")
        if suffix in {".jsonl", ".ndjson"}:
            return _read_jsonl(path, text)
        if suffix == ".json":
            return _read_json(path, text)
        return _read_csv(path, text, separator="\t" if suffix == ".tsv" else ",")
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        return _read_arrow(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(
            f"{path}: not a readable {suffix[1:]} file ({_first_line(exc)}).",
            "The file may be truncated or of another format; re-export it.",
        ) from exc


def _decode_utf8(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} "
            f"at offset {exc.start}).",
            "Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`.",
        ) from exc


def _read_jsonl(path: Path, text: str) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}, line {number}: not valid JSON ({exc.msg}, column {exc.colno}).",
                "Each line of a .jsonl file must be one JSON object.",
            ) from exc
        if not isinstance(row, dict):
            raise DataError(
                f"{path}, line {number}: a JSON {type(row).__name__}, not an object.",
                "Each line of a .jsonl file must be one JSON object.",
            )
        rows.append(row)
    return _frame_from_records(path, rows)


def _read_json(path: Path, text: str) -> pl.DataFrame:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).",
            "Fix the file, or save it as .jsonl with one object per line.",
        ) from exc
    records = _json_records(data)
    if records is None:
        raise DataError(
            f"{path}: JSON must be a list of objects or an object of equal-length lists.",
            "Save the data as a list of {prompt, chosen, rejected} objects.",
        )
    return _frame_from_records(path, records)


def _json_records(data: Any) -> list[dict[str, Any]] | None:
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        # A wrapper object such as {"data": [...]} around a list of records.
        if len(data) == 1 and lists and all(isinstance(r, dict) for r in lists[0]):
            return lists[0]
        if lists and len(lists) == len(data) and len({len(v) for v in lists}) == 1:
            keys = list(data)
            return [dict(zip(keys, values, strict=True)) for values in zip(*lists, strict=True)]
    return None


def _frame_from_records(path: Path, records: list[dict[str, Any]]) -> pl.DataFrame:
    try:
        return pl.from_dicts(records, infer_schema_length=None, strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise DataError(
            f"{path}: rows do not form one table ({_first_line(exc)}).",
            "Give every row the same fields with the same types.",
        ) from exc


def _read_csv(path: Path, text: str, separator: str) -> pl.DataFrame:
    try:
        return pl.read_csv(io.StringIO(text), separator=separator, infer_schema_length=0)
    except pl.exceptions.PolarsError as exc:
        raise DataError(
            f"{path}: not a readable CSV file ({_first_line(exc)}).",
            "Check quoting and that every row has the header's number of fields.",
        ) from exc


def _read_arrow(path: Path) -> pl.DataFrame:
    try:
        return pl.read_ipc(path)
    except (OSError, pl.exceptions.PolarsError):
        # `datasets` caches write the Arrow *stream* format, which read_ipc rejects.
        import pyarrow as pa

        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        return _from_arrow(table)


def _from_arrow(table: Any) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _read_datasets_folder(path: Path) -> pl.DataFrame:
    if not any((path / marker).exists() for marker in DATASETS_FOLDER_MARKERS):
        raise DataError(
            f"{path} is a folder but not a data set saved by `datasets.save_to_disk` "
            f"(it has none of {', '.join(DATASETS_FOLDER_MARKERS)}).",
            "Point to a data file inside it, or to a save_to_disk folder.",
        )
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise DataError(
            f"{path}: cannot load the saved data set ({_first_line(exc)}).",
            "The folder may be incomplete; save it again with save_to_disk.",
        ) from exc
    return _from_datasets(loaded)


def _read_hub(source: str, hub_split: str | None) -> pl.DataFrame:
    offline, unreachable = check_hub()  # no network: the cache only, at once
    import datasets

    try:
        with quiet_hub_logs(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = datasets.load_dataset(source, split=hub_split)
    except Exception as exc:  # datasets raises many unrelated types for "cannot get it"
        if unreachable is not None:
            raise DataError(
                f"{source}: not a local path, and the Hugging Face hub ({hub_host()}) cannot be "
                f"reached to load it as a hub data set ({unreachable}); it is not in your "
                "datasets cache either.",
                "Connect to the network, or download the data set where you have one and pass "
                "its local path.",
            ) from exc
        if offline is not None:
            raise DataError(
                f"{source}: not a local path, and not in your datasets cache ({offline} is set, "
                "so the hub was not asked).",
                f"Unset {offline} to download it, or pass the local path of a copy.",
            ) from exc
        raise DataError(
            f"{source}: not a local path, and loading it as a hub data set failed "
            f"({_first_line(exc)}).",
            "Check the id and your network, or download it and pass the local path.",
        ) from exc
    return _from_datasets(loaded)


def _from_datasets(loaded: Any) -> pl.DataFrame:
    """A Dataset becomes a table; a DatasetDict's splits are stacked with a `split` column."""
    if hasattr(loaded, "data") and hasattr(loaded.data, "table"):
        return _from_arrow(loaded.data.table)
    frames = []
    for name, part in loaded.items():
        frame = _from_arrow(part.data.table)
        if "split" not in frame.columns:
            frame = frame.with_columns(pl.lit(name).alias("split"))
        frames.append(frame)
    return pl.concat(frames, how="diagonal_relaxed")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
