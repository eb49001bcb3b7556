"""Retrains on a tiny random model with both recipes: runs record their recipe and plan, are
reused when finished and need their clean run; the full recipe's clean run of the analysed
seed is the analysed model; a killed full retrain resumes to the same model; two processes
record one run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from safetensors.numpy import load_file

from safer_engine.config import EditConfig
from safer_engine.edits.stage import plan_edits, save_plan
from safer_engine.errors import ConfigError, EditError
from safer_engine.retrain.recipes import make_recipe, make_recipes
from safer_engine.retrain.run import RetrainResult, retrain, run_id_of
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import BASE_RUN, list_runs, read_run
from tests.accelerate_launch import launch

FAST = {"epochs": 3, "hidden": 8}


def ran(result: RetrainResult | None) -> RetrainResult:
    assert result is not None
    return result


def test_fast_clean_and_edited_runs(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    recipe = make_recipe(workspace, "fast", FAST)
    plan = plan_edits(workspace, EditConfig(mode="random-flip", ratio=50, seed=1))
    with pytest.raises(EditError, match=r"clean run .* is missing"):
        retrain(workspace, plan, recipe)
    clean = ran(retrain(workspace, None, recipe))
    assert not clean.reused and clean.run.status == "done" and clean.run.recipe == "fast"
    edited = ran(retrain(workspace, plan, recipe))
    assert edited.run.run_id == run_id_of(plan.plan_id, recipe, 0)
    assert "-fast-" in edited.run.run_id and edited.run.info["clean_run"] == clean.run.run_id
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
    assert 0 <= edited.run.info["flips_learned"] <= 1  # measured on the flipped train pairs
    assert "flips_learned" not in clean.run.info
    again = ran(retrain(workspace, plan, recipe))
    assert again.reused and again.run == edited.run
    ids = [run.run_id for run in list_runs(workspace)]
    assert ids == [BASE_RUN, clean.run.run_id, edited.run.run_id]
    other_seed = ran(retrain(workspace, None, recipe, seed=1))
    assert not other_seed.reused and other_seed.run.run_id.endswith("-s1")


def test_the_fast_recipe_reads_texts_as_the_analysed_model(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    fast = make_recipe(workspace, "fast")
    assert fast.settings()["max_length"] == 32 and fast.settings()["max_prompt_tokens"] == 8
    # and trains on its schedule: the analysed model's 3 steps of prompt groups
    assert fast.settings()["max_steps"] == 3 and fast.settings()["batching"] == "prompts"
    assert make_recipe(workspace, "fast", {"max_steps": -1, "epochs": 2}).settings()["epochs"] == 2
    full = make_recipe(workspace, "full", {"max_steps": 2})
    assert full.settings()["max_steps"] == 2 and full.settings()["max_length"] == 32
    with pytest.raises(ConfigError, match="--hidden is a setting of the fast recipe"):
        make_recipe(workspace, "full", {"hidden": 4})
    with pytest.raises(ConfigError, match="--save-steps is a setting of the full recipe"):
        make_recipe(workspace, "fast", {"save_steps": 4})
    both = make_recipes(workspace, ("fast", "full"), {"hidden": 4, "save_steps": 9})
    assert both[0].settings()["hidden"] == 4 and both[1].settings()["save_steps"] == 9


def test_full_recipe_poisoning_against_the_analysed_model(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    recipe = make_recipe(workspace, "full")
    clean = ran(retrain(workspace, None, recipe, seed=0))
    assert clean.reused and clean.run.run_id == BASE_RUN and clean.run.recipe == "full"
    assert not workspace.runs_dir.exists()  # nothing trained: the analysed model is the run
    test_pairs = workspace.pairs()[0].filter(pl.col("split") == "test")
    assert clean.margins["pair_id"].to_list() == test_pairs["pair_id"].to_list()
    assert clean.report.overall.pairs == test_pairs.height
    evaluated = (workspace.rm_dir / "eval.json").read_bytes()  # its eval stage, from margins
    assert ran(retrain(workspace, None, recipe, seed=0)).report == clean.report
    assert (workspace.rm_dir / "eval.json").read_bytes() == evaluated
    plan = plan_edits(workspace, EditConfig(mode="random-flip", ratio=50, seed=1))
    save_plan(workspace, plan)
    poisoned = ran(retrain(workspace, plan, recipe, seed=0))
    run = poisoned.run
    assert run.recipe == "full" and "-full-" in run.run_id and run.info["clean_run"] == BASE_RUN
    assert (
        run.info["steps"] == 3 and run.info["accuracy"]["all"] == poisoned.report.overall.accuracy
    )
    folder = workspace.runs_dir / run.run_id
    assert (folder / "model" / "model.safetensors").is_file()
    assert not (folder / "checkpoints").exists()  # removed once the model is saved
    assert [r.recipe for r in list_runs(workspace)] == ["full", "full"]
    assert ran(retrain(workspace, plan, recipe, seed=0)).reused
    other = ran(retrain(workspace, None, recipe, seed=1))
    assert not other.reused and other.run.run_id == run_id_of(None, recipe, 1)


def _kill_script(root: Path, marker: Path) -> str:
    """A full retrain of seed 1 that slows down after its second step, so the test can kill
    it once its checkpoint-2 is complete."""
    return f"""
import time
from pathlib import Path
from safer_engine.retrain.recipes import make_recipe
from safer_engine.retrain.run import retrain
from safer_engine.workspace import Workspace

workspace = Workspace.open(Path({str(root)!r}))
recipe = make_recipe(workspace, "full", {{"max_steps": 6, "save_steps": 2}})

def slow(task, done, total):
    if task == "training" and done >= 2:
        Path({str(marker)!r}).touch()
        time.sleep(30)

retrain(workspace, None, recipe, seed=1, progress=slow)
"""


def test_a_killed_full_retrain_resumes_from_its_checkpoint_to_the_same_model(
    trained_workspace: Path, tmp_path: Path
) -> None:
    other = tmp_path / "uninterrupted"
    shutil.copytree(trained_workspace, other)
    overrides = {"max_steps": 6, "save_steps": 2}
    marker = tmp_path / "at-step-2"
    script = tmp_path / "killed.py"
    script.write_text(_kill_script(trained_workspace, marker))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    process = subprocess.Popen([sys.executable, str(script)], env=env)
    workspace = Workspace.open(trained_workspace)
    recipe = make_recipe(workspace, "full", overrides)
    run_id = run_id_of(None, recipe, 1)
    checkpoint = workspace.runs_dir / run_id / "checkpoints" / "checkpoint-2"
    deadline = time.monotonic() + 240
    while not (marker.exists() and (checkpoint / "trainer_state.json").exists()):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert read_run(workspace, run_id).status == "running"
    resumed = ran(retrain(workspace, None, recipe, seed=1))
    assert resumed.run.status == "done" and resumed.run.info["resumed_from"] == "checkpoint-2"
    straight = ran(
        retrain(Workspace.open(other), None, make_recipe(workspace, "full", overrides), 1)
    )
    assert straight.run.info["resumed_from"] is None
    weights = [
        load_file(str(root / "runs" / run_id / "model" / "model.safetensors"))
        for root in (trained_workspace, other)
    ]
    assert weights[0].keys() == weights[1].keys()
    for name in weights[0]:
        assert (weights[0][name] == weights[1][name]).all(), name


def test_two_processes_record_one_full_run_evaluated_once(trained_workspace: Path) -> None:
    result = launch(
        "retrain", "--clean", "--recipe", "full", "--seed", "2", "--max-steps", "2",
        "--workspace", str(trained_workspace),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("(full recipe) trained") == 1
    assert result.stdout.count("Accuracy on the clean test pairs") == 1
    runs = [run for run in list_runs(Workspace.open(trained_workspace)) if not run.is_base]
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].recipe == "full"
    assert runs[0].info["steps"] == 2


def test_a_run_trained_before_flips_were_measured_gets_them_once(trained_workspace: Path) -> None:
    from dataclasses import replace

    from safer_engine.workspace.runs import write_run

    workspace = Workspace.open(trained_workspace)
    recipe = make_recipe(workspace, "fast", FAST)
    plan = plan_edits(workspace, EditConfig(mode="random-flip", ratio=50, seed=1))
    ran(retrain(workspace, None, recipe))
    first = ran(retrain(workspace, plan, recipe)).run
    info = {k: v for k, v in first.info.items() if k != "flips_learned"}
    write_run(workspace, replace(first, info=info))  # as an older version recorded it
    again = ran(retrain(workspace, plan, recipe))
    assert again.reused and again.run.info["flips_learned"] == first.info["flips_learned"]
    assert read_run(workspace, first.run_id) == again.run
    assert again.run.finished == first.finished


def test_two_processes_run_an_experiment_with_both_recipes(encoded_workspace: Path) -> None:
    """The fast runs train on the main process alone, the full ones on both; every run is
    recorded once and the report is written once."""
    result = launch(
        "experiment", "--recipe", "fast,full", "--poison", "25", "--denoise", "",
        "--seeds", "1", "--workspace", str(encoded_workspace),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Report ") == 1
    assert "SAFER − random accuracy" in result.stdout
    runs = [run for run in list_runs(Workspace.open(encoded_workspace)) if not run.is_base]
    assert sorted(run.recipe for run in runs) == ["fast"] * 3 + ["full"] * 2
    assert all(run.status == "done" for run in runs)
    assert len({run.run_id for run in runs}) == len(runs)
