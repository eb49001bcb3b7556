"""A tiny experiment runs end to end, resumes after being interrupted without redoing
finished runs, and writes its report and plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.config import ExperimentConfig, RecipeConfig, SelectionConfig
from safer_engine.errors import Cancelled, ConfigError
from safer_engine.experiment.grid import run_experiment, settings
from safer_engine.progress import CancelToken
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import list_runs

CONFIG = ExperimentConfig(poison=(25.0,), denoise=(25.0,), seeds=2)
RECIPE = RecipeConfig(epochs=2, hidden=8)


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


def test_an_interrupted_experiment_resumes_and_reports(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    cancel = CancelToken()

    def stop_at_the_fourth_run(task: str, done: int, total: int | None) -> None:
        if task.startswith("run 4 of"):
            cancel.cancel()

    with pytest.raises(Cancelled):
        run_experiment(workspace, CONFIG, RECIPE, SelectionConfig(), stop_at_the_fourth_run, cancel)
    finished = [run for run in list_runs(workspace) if run.status == "done" and not run.is_base]
    assert len(finished) == 3
    result = run_experiment(workspace, CONFIG, RECIPE, SelectionConfig())
    assert (result.runs, result.trained) == (10, 7)
    text = result.report.read_text()
    assert (
        "SAFER poisoning" in text and "random removal" in text and "10 runs (7 trained now" in text
    )
    assert (result.report.parent / "report.png").read_bytes()[:4] == b"\x89PNG"
    again = run_experiment(workspace, CONFIG, RECIPE, SelectionConfig())
    assert again.trained == 0
