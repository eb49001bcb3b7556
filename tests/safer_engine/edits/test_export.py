"""Export round-trips in each format and schema, gives the same bytes twice, never
overwrites without --force, and leaves nothing half-written."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import DataConfig, EditConfig
from safer_engine.data.load import PreferenceData, load_preferences
from safer_engine.edits.export import FORMATS, export_plan, manifest_path
from safer_engine.edits.plan import EditPlan, make_plan
from safer_engine.errors import DiskFullError, EditError


def loaded(fixture_data: Path, name: str) -> PreferenceData:
    return load_preferences(DataConfig(str(fixture_data / name), test_fraction=0.01))


def flip_first(data: PreferenceData) -> EditPlan:
    train = data.table.filter(pl.col("split") == "train")["pair_id"].to_list()
    cfg = EditConfig(mode="manual", pairs="ids.txt")
    return make_plan(data.table, data.fingerprint, cfg, manual_ids=train[:1])


def read(path: Path, fmt: str) -> pl.DataFrame:
    if fmt == "parquet":
        return pl.read_parquet(path)
    if fmt == "jsonl":
        return pl.read_ndjson(path)
    from datasets import load_from_disk

    return pl.from_arrow(load_from_disk(str(path)).data.table)  # type: ignore[return-value]


@pytest.mark.parametrize("fmt", FORMATS)
def test_pku_rows_come_back_with_the_safer_id_swapped(
    fixture_data: Path, tmp_path: Path, fmt: str
) -> None:
    data = loaded(fixture_data, "pku_saferlhf.jsonl")
    plan = flip_first(data)
    out = tmp_path / f"edited.{fmt}"
    result = export_plan(data.table, plan, data.schema, "safer", out, fmt)
    assert result.schema == "PKU-SafeRLHF"
    exported = read(out, fmt)
    assert "safer_response_id" in exported.columns and "chosen" not in exported.columns
    original = pl.read_ndjson(fixture_data / "pku_saferlhf.jsonl")
    flipped = data.table.filter(pl.col("pair_id") == plan.edits[0].pair_id)["prompt"][0]
    for row in exported.iter_rows(named=True):
        before = original.filter(pl.col("prompt") == row["prompt"])["safer_response_id"][0]
        expected = 1 - before if row["prompt"] == flipped else before
        assert row["safer_response_id"] == expected
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["plan"]["plan_id"] == plan.plan_id
    assert manifest["input"]["fingerprint"] == data.fingerprint
    assert manifest["output"]["sha256"] == result.fingerprint and manifest["version"]


def test_hh_rlhf_comes_back_as_transcripts(fixture_data: Path, tmp_path: Path) -> None:
    data = loaded(fixture_data, "hh_rlhf.jsonl")
    plan = flip_first(data)
    export_plan(data.table, plan, data.schema, "safer", tmp_path / "hh.jsonl", "jsonl")
    exported = pl.read_ndjson(tmp_path / "hh.jsonl")
    original = pl.read_ndjson(fixture_data / "hh_rlhf.jsonl")
    assert exported.columns[:2] == ["chosen", "rejected"]
    pairs = set(zip(original["chosen"], original["rejected"], strict=True))
    flipped = 0
    for chosen, rejected in zip(exported["chosen"], exported["rejected"], strict=True):
        assert chosen.rstrip().count("Assistant:") >= 1
        if (chosen, rejected) not in pairs:
            assert (rejected, chosen) in pairs
            flipped += 1
    assert flipped == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_plan_exported_twice_gives_the_same_bytes(
    fixture_data: Path, tmp_path: Path, fmt: str
) -> None:
    data = loaded(fixture_data, "generic.csv")
    plan = flip_first(data)
    first = export_plan(data.table, plan, data.schema, "safer", tmp_path / "a" / "out", fmt)
    second = export_plan(data.table, plan, data.schema, "safer", tmp_path / "b" / "out", fmt)
    assert first.schema == "canonical" and first.fingerprint == second.fingerprint
    assert manifest_path(first.path).read_bytes() == manifest_path(second.path).read_bytes()
    exported = read(first.path, fmt)
    assert exported.height == data.table.filter(pl.col("split") == "train").height
    with pytest.raises(EditError, match="already exists"):
        export_plan(data.table, plan, data.schema, "safer", first.path, fmt)
    export_plan(data.table, plan, data.schema, "safer", first.path, fmt, force=True)


def test_a_full_disk_leaves_nothing_half_written(
    fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = loaded(fixture_data, "generic.csv")
    plan = flip_first(data)

    def full(self: pl.DataFrame, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(DiskFullError, match="disk filled up"):
        export_plan(data.table, plan, data.schema, "safer", tmp_path / "out.parquet", "parquet")
    assert list(tmp_path.iterdir()) == []
