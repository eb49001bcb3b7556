"""Retraining runs: a reward model trained by a recipe on the workspace's train split, clean or
edited by a plan, and evaluated on the untouched clean test split.

Each run is a folder `runs/<run-id>/` (see `safer_engine.workspace.runs`): its record, its
model, `eval.json` and every test pair's margin. The analysed reward model (`rm/`) is never
retrained: the full recipe's clean run with its seed and config *is* that model, so it is
read from `rm/` and shown as the base run. A finished run with the same recipe, data and
plan is reused; an interrupted one starts again (the full recipe from its last checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.edits.apply import apply_plan, flipped_and_removed
from safer_engine.edits.plan import EditPlan
from safer_engine.errors import EditError, SaferError, WorkspaceError
from safer_engine.files import atomic_file
from safer_engine.launch import current_share
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.retrain.recipes import Recipe, recipe_key
from safer_engine.train.evaluate import EvalReport, report_from_margins
from safer_engine.train.stage import eval_from_margins, margins_stage
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import (
    BASE_RUN,
    Run,
    finish_run,
    read_run,
    run_dir,
    start_run,
    write_run,
)


@dataclass(frozen=True)
class RetrainResult:
    run: Run
    report: EvalReport
    margins: pl.DataFrame
    """pair_id, slice, margin and correct of every clean test pair."""
    reused: bool


def run_id_of(plan_id: str | None, recipe: Recipe, seed: int) -> str:
    """`clean-<recipe>-<key>-s<seed>`, or `<plan-id>-<recipe>-<key>-s<seed>` for an edited
    run (the key: a hash of the recipe's settings)."""
    return f"{plan_id or 'clean'}-{recipe.name}-{recipe_key(recipe)}-s{seed}"


def clean_run_id(workspace: Workspace, recipe: Recipe, seed: int) -> str:
    """The run an edited run of `seed` is compared with: the base run when it is that."""
    return BASE_RUN if recipe.analysed(workspace, seed) else run_id_of(None, recipe, seed)


def retrain(
    workspace: Workspace,
    plan: EditPlan | None,
    recipe: Recipe,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> RetrainResult | None:
    """Train (or reuse) the run of `plan` (None: the clean run) with `recipe` and `seed`.

    Under a launch every process calls it and all return together, the next run may need this
    one's record; the main process evaluates and records, the others get None."""
    cancel = cancel or CancelToken()
    share = current_share()
    result = None
    if share.is_main or recipe.every_process:
        result = _retrain(workspace, plan, recipe, seed, share.is_main, progress, cancel)
    share.barrier()
    return result if share.is_main else None


def _retrain(
    workspace: Workspace,
    plan: EditPlan | None,
    recipe: Recipe,
    seed: int,
    is_main: bool,
    progress: Progress,
    cancel: CancelToken,
) -> RetrainResult | None:
    pairs, fingerprint = workspace.pairs()
    inputs = {
        "data": fingerprint,
        "plan": plan.plan_id if plan else "",
        **recipe.prepare(workspace, progress, cancel),
    }
    if plan is None and recipe.analysed(workspace, seed):
        return _analysed_run(workspace, progress, cancel) if is_main else None
    run_id = run_id_of(plan.plan_id if plan else None, recipe, seed)
    config = {"recipe": recipe.name, "settings": recipe.settings(), "seed": seed}
    done = _finished(workspace, run_id, config, inputs)
    if done is not None:
        if not is_main:
            return None
        return _with_flips_learned(workspace, recipe, done, plan, progress, cancel)
    clean = clean_run_id(workspace, recipe, seed) if plan is not None else None
    if clean is not None:
        _require_clean_run(workspace, clean, seed)
    edited = apply_plan(pairs, plan) if plan is not None else pairs
    return _train(
        workspace, recipe, run_id, config, inputs, plan, clean, edited, seed, progress, cancel
    )


def _train(
    workspace: Workspace,
    recipe: Recipe,
    run_id: str,
    config: dict[str, Any],
    inputs: dict[str, str],
    plan: EditPlan | None,
    clean: str | None,
    edited: pl.DataFrame,
    seed: int,
    progress: Progress,
    cancel: CancelToken,
) -> RetrainResult | None:
    folder = run_dir(workspace, run_id)
    run = None
    if current_share().is_main:
        run = start_run(workspace, run_id, config, inputs, plan.plan_id if plan else None)
    try:
        data_key = f"{inputs['data']}+{inputs['plan']}"
        trained = recipe.train(workspace, edited, data_key, seed, folder, progress, cancel)
        if run is None or not trained.is_main:
            return None
        pairs, _ = workspace.pairs()
        test = pairs.filter(pl.col("split") == "test")
        margins = recipe.margins(workspace, folder, test, progress, cancel)
        learned = _flips_learned(workspace, recipe, folder, edited, plan, progress, cancel)
    except SaferError as exc:
        if run is not None:
            finish_run(workspace, run, error=exc.message)
        raise
    table = _margins_table(test, margins)
    report = report_from_margins(test, margins, "test")
    report.save(folder / names.EVAL_FILE)
    with atomic_file(folder / names.EVAL_PAIRS_FILE) as partial:
        table.write_parquet(partial)
    info = {
        "accuracy": _accuracies(report),
        "edited": plan.counts if plan is not None else {},
        **({"clean_run": clean} if clean else {}),
        **({"flips_learned": learned} if learned is not None else {}),
        **trained.info,
    }
    return RetrainResult(finish_run(workspace, run, **info), report, table, reused=False)


def _flips_learned(
    workspace: Workspace,
    recipe: Recipe,
    folder: Path,
    edited: pl.DataFrame,
    plan: EditPlan | None,
    progress: Progress,
    cancel: CancelToken,
) -> float | None:
    """The share of the plan's flipped pairs that the retrained model orders as flipped: a
    poisoning moves a model only as far as the model learned it."""
    flips, _ = flipped_and_removed(plan) if plan is not None else (set(), set())
    if not flips:
        return None
    flipped = edited.filter((pl.col("split") == "train") & pl.col("pair_id").is_in(list(flips)))
    return float(np.mean(recipe.margins(workspace, folder, flipped, progress, cancel) > 0))


def _with_flips_learned(
    workspace: Workspace,
    recipe: Recipe,
    done: RetrainResult,
    plan: EditPlan | None,
    progress: Progress,
    cancel: CancelToken,
) -> RetrainResult:
    """A finished run, with how much of its poisoning it learned recorded once if it was
    trained before that was measured."""
    if plan is None or "flips_learned" in done.run.info:
        return done
    pairs, _ = workspace.pairs()
    folder = run_dir(workspace, done.run.run_id)
    learned = _flips_learned(
        workspace, recipe, folder, apply_plan(pairs, plan), plan, progress, cancel
    )
    if learned is None:
        return done
    run = write_run(workspace, replace(done.run, info={**done.run.info, "flips_learned": learned}))
    return replace(done, run=run)


def _margins_table(test: pl.DataFrame, margins: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "pair_id": test["pair_id"],
            "slice": test["slice"],
            "margin": np.asarray(margins, dtype=np.float64),
            "correct": np.asarray(margins) > 0,
        }
    )


def _analysed_run(workspace: Workspace, progress: Progress, cancel: CancelToken) -> RetrainResult:
    """The analysed reward model as the full recipe's clean run of its own seed: its test
    margins from the margins stage, its report from them (both reused when current)."""
    margins = margins_stage(workspace, progress, cancel)
    report = eval_from_margins(workspace, margins)
    pairs, _ = workspace.pairs()
    test = pairs.filter(pl.col("split") == "test").select("pair_id", "slice")
    found = test.join(margins.select("pair_id", "margin"), on="pair_id", how="left")
    table = _margins_table(test, found["margin"].to_numpy())
    return RetrainResult(read_run(workspace, BASE_RUN), report, table, reused=True)


def _finished(
    workspace: Workspace, run_id: str, config: dict[str, Any], inputs: dict[str, str]
) -> RetrainResult | None:
    """The run, if it finished with exactly this recipe, data and plan."""
    folder = run_dir(workspace, run_id)
    if not (folder / names.RUN_FILE).is_file():
        return None
    run = read_run(workspace, run_id)
    files = (folder / names.EVAL_FILE, folder / names.EVAL_PAIRS_FILE)
    if run.status != "done" or run.config != config or run.inputs != inputs:
        return None
    if not all(path.is_file() for path in files):
        return None
    report = EvalReport.load(files[0])
    return RetrainResult(run, report, pl.read_parquet(files[1]), reused=True)


def _require_clean_run(workspace: Workspace, clean: str, seed: int) -> None:
    try:
        done = read_run(workspace, clean).status == "done"
    except WorkspaceError:
        done = False
    if not done:
        raise EditError(
            f"The clean run this retrain is compared with ({clean}) is missing.",
            f"Train it first with `safer retrain --clean --seed {seed} --workspace DIR` "
            "(`safer experiment` does it for you).",
        )


def _accuracies(report: EvalReport) -> dict[str, float]:
    found = {s.name: s.accuracy for s in report.slices}
    return {"all": report.overall.accuracy, **found}
