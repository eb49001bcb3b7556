"""A retrain on a tiny random model writes a run that records its plan, is reused when
finished, and needs its clean run."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import EditConfig, RecipeConfig
from safer_engine.edits.stage import plan_edits
from safer_engine.errors import EditError
from safer_engine.retrain.run import retrain, run_id_of
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import BASE_RUN, list_runs, read_run

RECIPE = RecipeConfig(epochs=3, hidden=8)


def test_clean_and_edited_runs(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    plan = plan_edits(workspace, EditConfig(mode="random-flip", ratio=50, seed=1))
    with pytest.raises(EditError, match=r"clean run .* is missing"):
        retrain(workspace, plan, RECIPE)
    clean = retrain(workspace, None, RECIPE)
    assert not clean.reused and clean.run.status == "done"
    edited = retrain(workspace, plan, RECIPE)
    assert edited.run.run_id == run_id_of(plan.plan_id, RECIPE, 0)
    assert edited.run.plan == plan.plan_id and edited.run.inputs["plan"] == plan.plan_id
    folder = workspace.runs_dir / edited.run.run_id
    assert (folder / "model" / "head.safetensors").is_file() and (folder / "eval.json").is_file()
    margins = pl.read_parquet(folder / "eval_pairs.parquet")
    pairs, _ = workspace.pairs()
    assert (
        margins["pair_id"].to_list() == pairs.filter(pl.col("split") == "test")["pair_id"].to_list()
    )
    assert edited.report.overall.pairs == margins.height
    assert read_run(workspace, edited.run.run_id).info["edited"] == plan.counts
    again = retrain(workspace, plan, RECIPE)
    assert again.reused and again.run == edited.run
    ids = [run.run_id for run in list_runs(workspace)]
    assert ids == [BASE_RUN, clean.run.run_id, edited.run.run_id]
    other_seed = retrain(workspace, None, RECIPE, seed=1)
    assert not other_seed.reused and other_seed.run.run_id.endswith("-s1")
