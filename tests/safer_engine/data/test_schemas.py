from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import DataConfig
from safer_engine.data import load_preferences
from safer_engine.errors import SchemaError
from tests.conftest import pair, write_jsonl


def by_prompt(table: pl.DataFrame, prompt: str) -> dict:
    return table.filter(pl.col("prompt") == prompt).row(0, named=True)


def test_pku_safer_preference_picks_safer_response(fixture_data: Path) -> None:
    data = load_preferences(DataConfig(str(fixture_data / "pku_saferlhf.jsonl")))
    assert data.schema == "PKU-SafeRLHF"
    lock = by_prompt(data.table, "How can I pick a lock to get into my neighbour's house?")
    assert lock["chosen"].startswith("I can't help you get into")
    assert lock["rejected"].startswith("Insert a tension wrench")
    assert lock["slice"] == "safety"
    haiku = by_prompt(data.table, "Write a haiku about autumn.")
    assert haiku["chosen"] == "Autumn is a season."  # safer_response_id=1
    assert haiku["slice"] == "general"  # both responses safe
    # the original columns travel with the canonical ones
    assert {"response_0", "safer_response_id", "response_0_harm_category"} <= set(
        data.table.columns
    )


def test_pku_better_preference_picks_more_helpful_response(fixture_data: Path) -> None:
    config = DataConfig(str(fixture_data / "pku_saferlhf.jsonl"), preference="better")
    haiku = by_prompt(load_preferences(config).table, "Write a haiku about autumn.")
    assert haiku["chosen"].startswith("Red leaves drift")


def test_hh_transcripts_split_into_prompt_and_final_answer(fixture_data: Path) -> None:
    data = load_preferences(DataConfig(str(fixture_data / "hh_rlhf.jsonl")))
    assert data.schema == "HH-RLHF"
    row = data.table.filter(pl.col("chosen").str.starts_with("Damaging")).row(0, named=True)
    assert row["prompt"].startswith("Human: What's the best way to get back at my coworker?")
    assert row["prompt"].endswith("Human: I want to ruin his car.")
    assert row["rejected"] == "Pour sugar in the gas tank; it wrecks the engine."
    assert row["original_chosen"].endswith(row["chosen"])
    # row 3's transcripts ask different questions: no single prompt, reported and skipped
    assert data.table.height == 2
    assert [(p.row, p.column, p.kind) for p in data.report.problems] == [(3, "prompt", "empty")]


def test_rewardbench_subsets_map_to_sections(fixture_data: Path) -> None:
    data = load_preferences(DataConfig(str(fixture_data / "rewardbench.jsonl")))
    assert data.schema == "RewardBench"
    sections = dict(data.table.select("subset", "slice").iter_rows())
    assert sections == {
        "refusals-dangerous": "safety",
        "xstest-should-respond": "safety",
        "math-prm": "reasoning",
        "alpacaeval-easy": "chat",
        "mt-bench-hard": "chat-hard",
    }


def test_generic_csv(fixture_data: Path) -> None:
    data = load_preferences(DataConfig(str(fixture_data / "generic.csv")))
    assert data.schema == "generic prompt/chosen/rejected"
    assert data.table.height == 4
    assert data.table.columns[:7] == [
        "pair_id",
        "prompt",
        "chosen",
        "rejected",
        "slice",
        "split",
        "source",
    ]
    assert set(data.table["source"]) == {"generic.csv"}
    assert set(data.table["slice"]) == {"all"}


def test_generic_keeps_given_slice_and_split(tmp_path: Path) -> None:
    rows = [
        pair("a", "yes", "no", slice="safety", split="train"),
        pair("b", "yes", "no", slice="general", split="validation"),
    ]
    data = load_preferences(DataConfig(str(write_jsonl(tmp_path / "d.jsonl", rows))))
    assert sorted(data.table.select("prompt", "slice", "split").iter_rows()) == [
        ("a", "safety", "train"),
        ("b", "general", "test"),
    ]


def test_unknown_schema_names_columns_seen_and_expected(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "good": "a", "bad": "b"}])
    with pytest.raises(SchemaError) as info:
        load_preferences(DataConfig(str(path)))
    message = info.value.message
    assert "Columns seen: question, good, bad" in message
    assert "PKU-SafeRLHF: prompt, response_0, response_1" in message
    assert "--columns" in info.value.hint


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "q", "chosen": "a"}])
    with pytest.raises(SchemaError, match="lacks rejected"):
        load_preferences(DataConfig(str(path)))


def test_column_mapping_renames_to_canonical(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "good": "a", "bad": "b"}])
    config = DataConfig(
        str(path), columns={"prompt": "question", "chosen": "good", "rejected": "bad"}
    )
    data = load_preferences(config)
    assert data.table.select("prompt", "chosen", "rejected").row(0) == ("q", "a", "b")


def test_column_mapping_to_a_missing_column_is_reported(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [pair("q", "a", "b")])
    with pytest.raises(SchemaError, match=r"--columns names column\(s\) question"):
        load_preferences(DataConfig(str(path), columns={"prompt": "question"}))


def test_conversational_lists_get_a_clear_error(tmp_path: Path) -> None:
    message = [{"role": "assistant", "content": "hi"}]
    path = write_jsonl(tmp_path / "d.jsonl", [pair("q", message, message)])  # type: ignore[arg-type]
    with pytest.raises(SchemaError, match="column chosen holds"):
        load_preferences(DataConfig(str(path)))
