from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import DataConfig
from safer_engine.data import load_preferences
from safer_engine.data.readers import read_source
from safer_engine.errors import DataError
from tests.conftest import pair, write_jsonl

ROWS = [
    pair("How do I pick a lock?", "I can't help with that.", "Use a tension wrench."),
    pair("Tell me a joke.", "Why did the chicken cross the road?", "No."),
]


def canonical(path: Path) -> list[tuple[str, str, str]]:
    table = load_preferences(DataConfig(str(path))).table
    return sorted(table.select("prompt", "chosen", "rejected").iter_rows())


EXPECTED = sorted((r["prompt"], r["chosen"], r["rejected"]) for r in ROWS)


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv", "tsv", "parquet", "arrow"])
def test_every_file_format_loads_the_same_pairs(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame(ROWS)
    path = tmp_path / f"pairs.{suffix}"
    writers = {
        "jsonl": lambda: frame.write_ndjson(path),
        "json": lambda: path.write_text(json.dumps(ROWS)),
        "csv": lambda: frame.write_csv(path),
        "tsv": lambda: frame.write_csv(path, separator="\t"),
        "parquet": lambda: frame.write_parquet(path),
        "arrow": lambda: frame.write_ipc(path),
    }
    writers[suffix]()
    assert canonical(path) == EXPECTED


def test_json_wrapped_and_column_oriented(tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": ROWS}))
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps({k: [r[k] for r in ROWS] for k in ROWS[0]}))
    assert canonical(wrapped) == canonical(columns) == EXPECTED


def test_datasets_save_to_disk_folder_and_arrow_stream(tmp_path: Path) -> None:
    import datasets

    splits = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(ROWS[:1]),
            "test": datasets.Dataset.from_list(ROWS[1:]),
        }
    )
    splits.save_to_disk(str(tmp_path / "saved"))
    table = load_preferences(DataConfig(str(tmp_path / "saved"))).table
    assert sorted(table.select("prompt", "split").iter_rows()) == [
        ("How do I pick a lock?", "train"),
        ("Tell me a joke.", "test"),
    ]
    # datasets' own cache files use the Arrow stream format
    arrow_file = next((tmp_path / "saved" / "train").glob("*.arrow"))
    assert read_source(str(arrow_file)).frame.height == 1


def test_rows_are_numbered_from_one(tmp_path: Path) -> None:
    raw = read_source(str(write_jsonl(tmp_path / "d.jsonl", ROWS)))
    assert raw.frame["source_row"].to_list() == [1, 2]
    assert raw.origin == "d.jsonl"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", r"the file is empty"),
        (b"  \n\n", r"only whitespace"),
        (
            b'{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "\xff"}\n',
            r"line 2: not valid UTF-8 \(byte 0xff",
        ),
        (
            b'{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": \n',
            r"line 2: not valid JSON",
        ),
        (b"[1, 2]\n", r"line 1: a JSON list, not an object"),
    ],
    ids=["empty", "whitespace", "invalid-utf8", "bad-json", "not-object"],
)
def test_bad_jsonl_files_name_file_and_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as info:
        read_source(str(path))
    assert str(path) in info.value.message
    assert info.value.hint


def test_invalid_utf8_in_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"prompt,chosen,rejected\nq,a,b\nq2,caf\xe9,b\n")
    with pytest.raises(DataError, match="line 3: not valid UTF-8") as info:
        read_source(str(path))
    assert "iconv" in info.value.hint


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("prompt,chosen,rejected\n")
    with pytest.raises(DataError, match="has no rows"):
        read_source(str(path))


def test_folder_that_is_not_a_data_set(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="is a folder but not a data set"):
        read_source(str(tmp_path))


def test_missing_path_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        read_source(str(tmp_path / "missing.jsonl"))
    other = tmp_path / "pairs.xlsx"
    other.write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type \.xlsx"):
        read_source(str(other))


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    pl.DataFrame(ROWS).write_parquet(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="not a readable parquet file"):
        read_source(str(path))
