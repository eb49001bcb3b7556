from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.config import DataConfig
from safer_engine.errors import ConfigError


def test_round_trip_through_json(tmp_path: Path) -> None:
    config = DataConfig("d.jsonl", columns={"prompt": "q"}, preference="better", seed=3)
    config.save(tmp_path / "c.json")
    assert DataConfig.load(tmp_path / "c.json") == config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": ""}, "No data source"),
        ({"preference": "kindest"}, "preference must be one of safer, better"),
        ({"test_fraction": 1.0}, "test_fraction must be between 0 and 1"),
        ({"max_chars": 0}, "max_chars must be positive"),
        ({"columns": {"answer": "x"}}, "Cannot map columns to answer"),
    ],
)
def test_invalid_values_are_rejected_on_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DataConfig(**{"source": "d.jsonl", **kwargs})


def test_unknown_setting_in_saved_json(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"source": "d", "sede": 1}')
    with pytest.raises(ConfigError, match=r"has no setting\(s\) sede"):
        DataConfig.load(tmp_path / "c.json")


def test_damaged_json(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(ConfigError, match="Cannot read config"):
        DataConfig.load(tmp_path / "c.json")
