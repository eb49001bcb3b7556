from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.cli import main
from tests.safer_engine.cli import run_cli


def test_train_sae_encode_and_salience(
    trained_workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(trained_workspace)
    assert main(["extract", "--workspace", ws, "--policy", "all"]) == 0
    sae = [
        "train-sae",
        "--workspace",
        ws,
        "--n-latents",
        "32",
        "--k",
        "4",
        "--epochs",
        "5",
        "--batch-size",
        "64",
    ]
    assert main(sae) == 0
    printed = capsys.readouterr().out
    assert "SAE trained (32 latents, k=4" in printed and "variance explained" in printed
    assert main(sae) == 0
    assert "SAE up to date" in capsys.readouterr().out
    assert main(["encode", "--workspace", ws]) == 0
    assert "Encoded" in capsys.readouterr().out
    table = tmp_path / "salience.csv"
    assert main(["salience", "--workspace", ws, "--top", "3", "--csv", str(table)]) == 0
    printed = capsys.readouterr().out
    assert "Most salient features" in printed
    assert table.read_text().startswith("feature,salience")


def test_sae_commands_say_which_step_is_missing(trained_workspace: Path) -> None:
    ws = str(trained_workspace)
    result = run_cli("train-sae", "--workspace", ws)
    assert result.returncode == 2
    assert "has no activation store yet" in result.stderr
    assert "safer extract" in result.stderr
    result = run_cli("salience", "--workspace", ws)
    assert result.returncode == 2
    assert "has no SAE yet" in result.stderr
    result = run_cli("train-sae", "--workspace", ws, "--k", "9", "--n-latents", "4")
    assert result.returncode == 2
    assert "cannot exceed" in result.stderr


def test_salience_refuses_an_empty_top(encoded_workspace: Path) -> None:
    result = run_cli("salience", "--workspace", str(encoded_workspace), "--top", "0")
    assert result.returncode == 2 and "--top must be at least 1" in result.stderr


def test_ctrl_c_during_encoding_says_so_and_exits_130(
    encoded_workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import safer_engine.sae.stage as stage

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "encode_stage", interrupted)
    assert main(["encode", "--workspace", str(encoded_workspace), "--force"]) == 130
    err = capsys.readouterr().err
    assert "Interrupted." in err and "go on where they stopped" in err


def test_part_rows_below_one_is_refused_before_any_work(
    encoded_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["encode", "--workspace", str(encoded_workspace), "--force", "--part-rows", "0"]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Invalid value for '--part-rows'" in err and "greater than or equal to 1" in err
