from __future__ import annotations

from collections.abc import Callable
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


def _truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def _overwrite_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"\0" * 512)


@pytest.mark.parametrize("harm", [_truncate, _overwrite_header])
def test_extract_rebuilds_a_damaged_store(
    trained_workspace: Path, capsys: pytest.CaptureFixture[str], harm: Callable[[Path], None]
) -> None:
    ws = str(trained_workspace)
    args = ["extract", "--workspace", ws, "--layer", "1", "--policy", "all"]
    assert main(args) == 0
    capsys.readouterr()
    harm(trained_workspace / "store.h5")
    assert main(["store", "check", "--workspace", ws]) == 2
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Store up to date" not in printed
    assert "Replaced a damaged store" in printed and "Extracted layer 1: 40 texts" in printed
    assert main(["store", "check", "--workspace", ws]) == 0
    assert main(args) == 0
    assert "Store up to date" in capsys.readouterr().out


def test_every_command_gives_one_advice_for_a_damaged_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.errors import SaferError
    from safer_engine.service.explorer import Explorer
    from safer_engine.store.reader import rebuild_store_hint
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    root = build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4)
    _truncate(root / "store.h5")
    advice = rebuild_store_hint(root / "store.h5")
    assert advice == f"Rebuild it with `safer extract --workspace {root} --force`."
    for command in (["store", "check"], ["store", "info"], ["salience"], ["train-sae"]):
        assert main([*command, "--workspace", str(root)]) == 2, command
        printed = capsys.readouterr()
        assert "damaged" in printed.out + printed.err, command
        assert printed.err.rstrip().endswith(advice), command
        assert "Traceback" not in printed.err
    explorer = Explorer.open(root)
    try:
        with pytest.raises(SaferError, match="is damaged") as caught:
            explorer.examples(0)
        assert caught.value.hint == advice
    finally:
        explorer.close()
