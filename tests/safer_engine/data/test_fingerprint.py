from __future__ import annotations

from pathlib import Path

import polars as pl

from safer_engine.config import DataConfig
from safer_engine.data import load_preferences
from safer_engine.data.fingerprint import pair_id, table_fingerprint


def test_fingerprint_is_stable_across_reloads_and_row_order(
    fixture_data: Path, tmp_path: Path
) -> None:
    source = fixture_data / "generic.csv"
    first = load_preferences(DataConfig(str(source)))
    again = load_preferences(DataConfig(str(source)))
    reversed_path = tmp_path / "reversed.parquet"
    pl.read_csv(source).reverse().write_parquet(reversed_path)
    reordered = load_preferences(DataConfig(str(reversed_path)))
    assert first.fingerprint == again.fingerprint == reordered.fingerprint
    assert len(first.fingerprint) == 64


def test_fingerprint_changes_with_content_and_split() -> None:
    base = pl.DataFrame({"pair_id": ["a", "b"], "slice": ["s", "s"], "split": ["train", "test"]})
    resplit = base.with_columns(pl.Series("split", ["test", "test"]))
    fewer = base.head(1)
    prints = {table_fingerprint(t) for t in (base, resplit, fewer)}
    assert len(prints) == 3


def test_pair_id_depends_on_every_text() -> None:
    ids = {pair_id("p", "c", "r"), pair_id("p", "r", "c"), pair_id("pc", "", "r")}
    assert len(ids) == 3
    assert pair_id("p", "c", "r") == pair_id("p", "c", "r")
