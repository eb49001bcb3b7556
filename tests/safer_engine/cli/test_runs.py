"""`safer retrain` and `safer runs`: the listing shows every run's accuracy, the analysed
model's included, and ids whole at 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safer_engine.cli import main


def test_runs_list_the_analysed_model_and_retrains_whole(trained_workspace: Path) -> None:
    ws = str(trained_workspace)
    assert main(["eval", "--workspace", ws]) == 0
    recipe = ["--epochs", "1", "--hidden", "8", "--max-length", "32", "--max-prompt-tokens", "8"]
    assert main(["edit", "plan", "--workspace", ws, "--mode", "random-flip", "--ratio", "25"]) == 0
    assert main(["retrain", "--clean", "--workspace", ws, *recipe]) == 0
    (plan,) = (trained_workspace / "edits").iterdir()
    assert main(["retrain", plan.name, "--workspace", ws, *recipe]) == 0
    listing = subprocess.run(
        [sys.executable, "-m", "safer_engine.cli", "runs", "--workspace", ws],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        check=True,
    ).stdout
    lines = [line.split() for line in listing.splitlines()]
    rows = {cells[0]: cells for cells in lines if len(cells) > 2 and cells[1] in ("fast", "full")}
    assert len(rows) == 3 and max(len(line) for line in listing.splitlines()) <= 80
    base = rows.pop("base")
    assert base[1:3] == ["full", "done"] and len(base) == 5  # and two accuracies
    assert all(len(cells[3]) == 5 for cells in rows.values())  # 0.917, never cut
    edited = next(run for run in rows if run.startswith(plan.name))  # whole, on one line
    assert "…" not in edited and edited.endswith("-s0") and rows[edited][1] == "fast"


def test_recipe_words_and_settings_are_checked_before_any_training(
    trained_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(trained_workspace)
    for args, said in (
        (["--recipe", "fast,full"], "--recipe must be fast or full, not 'fast,full'"),
        (["--recipe", "slow"], "--recipe must be fast or full"),
        (["--recipe", "full", "--hidden", "8"], "--hidden is a setting of the fast recipe"),
        (["--save-steps", "5"], "--save-steps is a setting of the full recipe"),
    ):
        assert main(["retrain", "--clean", "--workspace", ws, *args]) == 2
        assert said in " ".join(capsys.readouterr().err.split())
    assert main(["experiment", "--workspace", ws, "--recipe", "full,slow"]) == 2
    assert "fast, full or fast,full" in capsys.readouterr().err
    assert not (trained_workspace / "runs").exists()


def test_the_full_recipe_clean_run_of_the_analysed_seed_is_the_base_run(
    trained_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(trained_workspace)
    assert main(["retrain", "--clean", "--recipe", "full", "--workspace", ws]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "is the analysed reward model" in said and "not trained again" in said
    assert not (trained_workspace / "runs").exists()
