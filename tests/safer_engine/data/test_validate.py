from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.config import DataConfig
from safer_engine.data import load_preferences
from safer_engine.errors import DataError
from tests.conftest import pair, write_jsonl


def problems(data) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    return sorted((p.row, p.column, p.kind) for p in data.report.problems)


def test_bad_rows_are_skipped_and_reported_by_row_and_column(tmp_path: Path) -> None:
    rows = [
        pair("ok", "good", "bad"),
        pair("", "good", "bad"),
        pair("q", "   ", "bad"),
        pair("q", "good", None),
        pair("q", "same", "same"),
        pair("ok", "good", "bad"),
        pair("q", "x" * 1_048_576, "bad"),
    ]
    data = load_preferences(DataConfig(str(write_jsonl(tmp_path / "d.jsonl", rows))))
    assert data.table.height == 1
    assert problems(data) == [
        (2, "prompt", "empty"),
        (3, "chosen", "empty"),
        (4, "rejected", "empty"),
        (5, "chosen", "identical"),
        (6, "prompt", "duplicate"),
        (7, "chosen", "too_long"),
    ]
    messages = {p.kind: p.message for p in data.report.problems}
    assert messages["duplicate"] == "duplicate of row 1"
    assert messages["too_long"] == "chosen has 1,048,576 characters, over the limit of 100,000"
    assert data.report.skipped == {"empty": 3, "identical": 1, "duplicate": 1, "too_long": 1}


def test_a_raised_limit_keeps_long_responses(tmp_path: Path) -> None:
    rows = [pair("q", "x" * 1_048_576, "bad")]
    config = DataConfig(str(write_jsonl(tmp_path / "d.jsonl", rows)), max_chars=2_000_000)
    assert load_preferences(config).table.height == 1


def test_no_usable_rows_is_an_error_with_the_reasons(tmp_path: Path) -> None:
    rows = [pair("q", "same", "same"), pair("", "a", "b")]
    with pytest.raises(DataError, match=r"none of its 2 rows is a usable pair") as info:
        load_preferences(DataConfig(str(write_jsonl(tmp_path / "d.jsonl", rows))))
    assert "1 identical" in info.value.message
    assert "1 empty" in info.value.message


def test_unknown_split_names_are_warned_and_resplit(tmp_path: Path) -> None:
    rows = [pair("a", "y", "n", split="holdout-2"), pair("b", "y", "n", split="train")]
    data = load_preferences(DataConfig(str(write_jsonl(tmp_path / "d.jsonl", rows))))
    assert [(p.row, p.kind) for p in data.report.problems] == [(1, "warning")]
    assert data.report.skipped == {}
    assert set(data.table["split"]) <= {"train", "test"}
    assert data.table.height == 2
