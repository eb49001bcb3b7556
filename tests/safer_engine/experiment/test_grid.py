"""A tiny experiment runs end to end, resumes after being interrupted without redoing
finished runs, and writes its report and plot."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import ExperimentConfig, SelectionConfig
from safer_engine.errors import Cancelled, ConfigError
from safer_engine.experiment.grid import run_experiment, settings
from safer_engine.progress import CancelToken
from safer_engine.retrain.recipes import make_recipe, make_recipes
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import list_runs

CONFIG = ExperimentConfig(poison=(25.0,), denoise=(25.0,), seeds=2)
FAST = {"epochs": 2, "hidden": 8}


def test_the_grid() -> None:
    grid = settings(CONFIG)
    assert len(grid) == 2 * 5 and grid[0].method == "clean"
    assert {(s.method, s.ratio) for s in grid if s.seed == 1} == {
        ("clean", 0.0),
        ("safer-poison", 25.0),
        ("random-flip", 25.0),
        ("safer-denoise", 25.0),
        ("random-remove", 25.0),
    }
    with pytest.raises(ConfigError, match="above 0 and below 100"):
        ExperimentConfig(poison=(0.0,))
    with pytest.raises(ConfigError, match="at least one"):
        ExperimentConfig(poison=(), denoise=())


def test_unset_ratios_are_the_grid_of_the_recipes() -> None:
    fast = ExperimentConfig().for_recipes(("fast",))
    assert fast.poison == (1.0, 2.5, 5.0) and fast.denoise == (2.0, 6.0, 10.0)
    full = ExperimentConfig(seeds=3).for_recipes(("fast", "full"))
    assert full.poison == (5.0, 10.0) and full.denoise == (10.0,)
    assert len(settings(full)) == 3 * 7
    asked = ExperimentConfig(poison=(1.0,)).for_recipes(("full",))
    assert asked.poison == (1.0,) and asked.denoise == (10.0,)


def test_an_interrupted_experiment_resumes_and_reports(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    recipe = [make_recipe(workspace, "fast", FAST)]
    cancel = CancelToken()

    def stop_at_the_fourth_run(task: str, done: int, total: int | None) -> None:
        if task.startswith("run 4 of"):
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_experiment(workspace, CONFIG, recipe, SelectionConfig(), stop_at_the_fourth_run, cancel)
    finished = [run for run in list_runs(workspace) if run.status == "done" and not run.is_base]
    assert len(finished) == 3
    result = run_experiment(workspace, CONFIG, recipe, SelectionConfig())
    assert (result.runs, result.trained) == (10, 7)
    text = result.report.read_text()
    assert (
        "SAFER poisoning" in text and "random removal" in text and "10 runs (7 trained now" in text
    )
    assert (result.report.parent / "report.png").read_bytes()[:4] == b"\x89PNG"
    again = run_experiment(workspace, CONFIG, recipe, SelectionConfig())
    assert again.trained == 0


def test_an_experiment_with_both_recipes_keeps_them_apart(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    config = ExperimentConfig(poison=(25.0,), denoise=(), seeds=2)
    recipes = make_recipes(workspace, ("fast", "full"), {"hidden": 8})
    result = run_experiment(workspace, config, recipes, SelectionConfig())
    assert result.report is not None
    assert (result.runs, result.trained) == (12, 11)  # full's clean seed 0 is the analysed RM
    summary = pl.read_parquet(result.report.with_name("summary.parquet"))
    assert sorted(set(summary["recipe"])) == ["fast", "full"]
    for recipe in ("fast", "full"):
        part = summary.filter(pl.col("recipe") == recipe)
        assert part.filter(pl.col("method") == "clean")["runs"].to_list() == [2] * 2
    text = result.report.read_text()
    assert "## full recipe, safety slice" in text and "## fast recipe, safety slice" in text
    assert "SAFER against random, recipe by recipe" in text and "flips learned" in text
    learned = summary.filter(pl.col("method") == "safer-poison")["flips_learned"].to_list()
    assert all(0 <= value <= 1 for value in learned)
    assert "| poison | 25% |" in text
    for line in text.splitlines():
        if line.startswith("| SAFER poisoning") or line.startswith("| clean"):
            raise AssertionError(f"a row without its recipe: {line}")
    rows = [line for line in text.splitlines() if line.startswith(("| fast |", "| full |"))]
    assert len(rows) == 2 * 2 * 3  # per recipe and slice: clean, SAFER and random poisoning
    verdicts = pl.read_parquet(result.report.with_name("verdicts.parquet"))
    assert set(verdicts["recipe"]) == {"fast", "full"} and set(verdicts["kind"]) == {"poison"}
    runs = list_runs(workspace)
    assert sum(run.recipe == "full" and not run.is_base for run in runs) == 5
