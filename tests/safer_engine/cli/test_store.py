from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.cli import main
from tests.safer_engine.cli import run_cli


def test_extract_store_info_and_check(
    trained_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(trained_workspace)
    assert main(["extract", "--workspace", ws, "--layer", "1", "--policy", "all"]) == 0
    assert "Extracted layer 1: 40 texts" in capsys.readouterr().out
    assert main(["extract", "--workspace", ws, "--layer", "1", "--policy", "all"]) == 0
    assert "Store up to date" in capsys.readouterr().out
    assert main(["store", "info", "--workspace", ws]) == 0
    printed = capsys.readouterr().out
    assert "acts/1/values" in printed and "float16" in printed
    assert main(["store", "check", "--workspace", ws]) == 0
    assert "Store OK" in capsys.readouterr().out


def test_store_check_reports_damage_and_fails(trained_workspace: Path) -> None:
    import h5py

    ws = str(trained_workspace)
    assert main(["extract", "--workspace", ws]) == 0
    with h5py.File(trained_workspace / "store.h5", "r+") as f:
        f["docs/tok_start"][2] += 1
    result = run_cli("store", "check", "--workspace", ws)
    assert result.returncode == 2
    assert "not contiguous" in result.stdout
    assert "failed 1 check(s)" in result.stderr
    assert "Traceback" not in result.stderr


def test_extract_with_a_layer_out_of_range(trained_workspace: Path) -> None:
    result = run_cli("extract", "--workspace", str(trained_workspace), "--layer", "9")
    assert result.returncode == 2
    assert "Layer 9 is out of range: the model has 2 blocks" in result.stderr
    assert "Choose --layer between 1 and 2" in result.stderr
