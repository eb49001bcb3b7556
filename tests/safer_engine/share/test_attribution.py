from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from safer_engine.errors import WorkspaceError
from safer_engine.share.attribution import attribution_path, read_effects


def test_no_attribution_reads_as_none(tmp_path: Path) -> None:
    assert read_effects(tmp_path) is None


def test_effects_by_feature_with_a_missing_figure_as_nan(tmp_path: Path) -> None:
    path = attribution_path(tmp_path)
    path.parent.mkdir()
    pl.DataFrame(
        {
            "feature": [3, 7],
            "effect_train": [0.5, -0.25],
            "effect_test": [0.4, -0.2],
            "effect_wrong": [1.5, None],
        }
    ).write_parquet(path)
    effects = read_effects(tmp_path)
    assert effects is not None and sorted(effects) == [3, 7]
    assert (effects[3].train, effects[3].test, effects[3].wrong) == (0.5, 0.4, 1.5)
    assert math.isnan(effects[7].wrong)


def test_a_table_without_the_columns_says_which(tmp_path: Path) -> None:
    path = attribution_path(tmp_path)
    path.parent.mkdir()
    pl.DataFrame({"feature": [1], "effect_train": [0.1]}).write_parquet(path)
    with pytest.raises(WorkspaceError, match="effect_test, effect_wrong"):
        read_effects(tmp_path)
    path.write_bytes(b"not parquet")
    with pytest.raises(WorkspaceError, match="cannot be read"):
        read_effects(tmp_path)
