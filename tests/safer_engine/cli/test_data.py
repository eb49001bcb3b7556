from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from safer_engine.cli import main, parse_columns
from safer_engine.errors import ConfigError
from tests.conftest import pair, write_jsonl
from tests.safer_engine.cli import run_cli


def test_data_info_prints_schema_counts_lengths_and_problems(
    fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "info", str(fixture_data / "hh_rlhf.jsonl")]) == 0
    printed = capsys.readouterr().out
    assert "HH-RLHF" in printed
    assert "2 usable of 3 rows read" in printed
    assert "Pairs by slice and split" in printed
    assert "Length in characters" in printed
    assert "row 3, column prompt: prompt is empty" in printed


def test_data_info_json(fixture_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(fixture_data / "rewardbench.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == "RewardBench"
    assert report["pairs"] == 5
    assert sum(n for _, _, n in report["summary"]["counts"]) == 5


def test_column_mapping_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "good": "b", "bad": "c"}])
    assert main(["data", "info", str(path), "--columns", "prompt=q,chosen=good,rejected=bad"]) == 0
    assert "1 usable of 1 rows read" in capsys.readouterr().out


def test_parse_columns_rejects_malformed_items() -> None:
    assert parse_columns("prompt=q, chosen = good") == {"prompt": "q", "chosen": "good"}
    with pytest.raises(ConfigError, match="is not NAME=COLUMN"):
        parse_columns("prompt")


def test_data_import_creates_a_workspace(
    tmp_path: Path, fixture_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "ws"
    source = str(fixture_data / "pku_saferlhf.jsonl")
    assert main(["data", "import", source, "--workspace", str(workspace)]) == 0
    assert "Pairs written to" in capsys.readouterr().out
    assert main(["data", "import", source, "--workspace", str(workspace)]) == 0
    assert "Pairs unchanged in" in capsys.readouterr().out
    assert (workspace / "data" / "pairs.parquet").is_file()


def test_rows_skipped_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [pair("q", "a", "b"), pair("q", "a", "b")])
    assert main(["data", "info", str(path)]) == 0
    assert "Problems: 1 duplicate" in capsys.readouterr().out


def test_failed_import_creates_no_workspace(tmp_path: Path) -> None:
    result = run_cli(
        "data", "import", str(tmp_path / "missing.jsonl"), "--workspace", str(tmp_path / "ws")
    )
    assert result.returncode == 2
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("endpoint", ["default", "closed port"])
def test_a_hub_id_without_network_fails_fast_with_one_message(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from safer_engine.hub import OFFLINE_VARIABLES, hub_unreachable

    for name in OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    if endpoint == "closed port":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    else:
        monkeypatch.delenv("HF_ENDPOINT", raising=False)
        if hub_unreachable() is None:
            pytest.skip("the hub is reachable from here: this test is about having no network")
    started = time.perf_counter()
    result = run_cli("data", "info", "PKU-Alignment/PKU-SafeRLHF")
    elapsed = time.perf_counter() - started
    assert result.returncode == 2
    assert elapsed < 15, f"took {elapsed:.1f} s"  # retries took 24 s; startup is ~2 s
    assert result.stderr.count("Error:") == 1
    assert "cannot be reached to load it as a hub data set" in result.stderr
    assert "not in your datasets cache either" in result.stderr
    for noise in ("Retry", "retry", "Warning", "WARNING", "thrown while requesting", "Traceback"):
        assert noise not in result.stderr + result.stdout


def test_a_hub_id_in_offline_mode_says_it_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run_cli("data", "info", "PKU-Alignment/PKU-SafeRLHF")
    assert result.returncode == 2
    assert "not in your datasets cache (HF_HUB_OFFLINE is set" in result.stderr
    assert "Unset HF_HUB_OFFLINE" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr
