from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.config import DataConfig, JudgeConfig
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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top": 0}, "--top must be at least 1, not 0"),
        ({"top": -3}, "--top must be at least 1, not -3"),
        ({"top": 5, "features": "1,2"}, "--top and --features both"),
        ({"features": ""}, "--features must be feature ids"),
        ({"features": "1,,2"}, "--features must be feature ids"),
        ({"features": "1,-2"}, "--features must be feature ids"),
        ({"features": "a,b"}, "--features must be feature ids"),
        ({"backend": "vllm"}, "--backend must be openai or local"),
        ({"examples": 0}, "--examples must be at least 1"),
        ({"concurrency": 0}, "--concurrency must be between 1 and 64"),
        ({"max_tokens": 2}, "--max-tokens must be at least 8"),
        ({"timeout": 0}, "--timeout must be positive"),
        ({"retries": 11}, "--retries must be between 0 and 10"),
        ({"local_model": " "}, "--local-model must name a model"),
    ],
)
def test_judge_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        JudgeConfig(**kwargs)


def test_judge_config_chooses_top_20_or_the_listed_features() -> None:
    assert JudgeConfig().n_top == 20 and JudgeConfig().feature_ids() is None
    assert JudgeConfig(top=5).n_top == 5
    assert JudgeConfig(features=" 3, 17,3,0 ").feature_ids() == (3, 17, 0)
