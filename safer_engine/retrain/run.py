"""Retraining runs: a reward model trained with the fast recipe on the workspace's train split,
clean or edited by a plan, and evaluated on the untouched clean test split.

Each run is a folder `runs/<run-id>/` (see `safer_engine.workspace.runs`): its record, its
head, `eval.json` and every test pair's margin. The analysed reward model (`rm/`) is never
touched. A finished run with the same recipe, data, plan and cache is reused; one that was
interrupted is trained again (a run takes seconds once the frozen cache exists).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.config import RecipeConfig
from safer_engine.edits.apply import apply_plan
from safer_engine.edits.plan import EditPlan
from safer_engine.errors import EditError, SaferError, WorkspaceError
from safer_engine.files import atomic_file
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.evaluate import EvalReport, report_from_margins
from safer_engine.train.fast_recipe import score, train_fast
from safer_engine.train.frozen_cache import FrozenCache, build_cache
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import Run, finish_run, read_run, run_dir, start_run
from safer_engine.workspace.stages import RM

DEFAULT_BACKBONE = "minilm"


@dataclass(frozen=True)
class RetrainResult:
    run: Run
    report: EvalReport
    margins: pl.DataFrame
    """pair_id, slice, margin and correct of every clean test pair."""
    reused: bool


def recipe_key(recipe: RecipeConfig) -> str:
    text = json.dumps(recipe.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def run_id_of(plan_id: str | None, recipe: RecipeConfig, seed: int) -> str:
    """`clean-<recipe>-s<seed>`, or `<plan-id>-<recipe>-s<seed>` for an edited run."""
    return f"{plan_id or 'clean'}-r{recipe_key(recipe)}-s{seed}"


def backbone_of(workspace: Workspace) -> str:
    """The backbone the analysed reward model was trained from (comparison runs start from
    the same pretrained weights)."""
    rm = workspace.stage(RM)
    return str(rm.config.get("model", DEFAULT_BACKBONE)) if rm else DEFAULT_BACKBONE


def recipe_for(workspace: Workspace) -> RecipeConfig:
    """The default recipe, reading texts as the analysed reward model did."""
    rm = workspace.stage(RM)
    if rm is None:
        return RecipeConfig()
    keep = ("max_length", "max_prompt_tokens")
    return RecipeConfig(**{k: rm.config[k] for k in keep if k in rm.config})


def frozen_cache(
    workspace: Workspace,
    recipe: RecipeConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> FrozenCache:
    """The frozen backbone's features of every text of the workspace's pairs (built once)."""
    pairs, _ = workspace.pairs()
    folder = workspace.root / names.FROZEN_CACHE_DIR
    return build_cache(backbone_of(workspace), pairs, recipe, folder, progress, cancel)


def retrain(
    workspace: Workspace,
    plan: EditPlan | None,
    recipe: RecipeConfig,
    seed: int = 0,
    cache: FrozenCache | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> RetrainResult:
    """Train (or reuse) the run of `plan` (None: the clean run) with `recipe` and `seed`."""
    pairs, fingerprint = workspace.pairs()
    cache = cache or frozen_cache(workspace, recipe, progress, cancel)
    run_id = run_id_of(plan.plan_id if plan else None, recipe, seed)
    inputs = {"data": fingerprint, "plan": plan.plan_id if plan else "", "cache": cache.key}
    config = {"recipe": recipe.to_dict(), "seed": seed, "backbone": backbone_of(workspace)}
    done = _finished(workspace, run_id, config, inputs)
    if done is not None:
        return done
    if plan is not None:
        _require_clean_run(workspace, recipe, seed)
    edited = apply_plan(pairs, plan) if plan is not None else pairs
    run = start_run(workspace, run_id, config, inputs, plan.plan_id if plan else None)
    try:
        train_pairs = cache.pairs_of(edited.filter(pl.col("split") == "train"))
        model = train_fast(cache, train_pairs, recipe, seed, progress, cancel)
        folder = run_dir(workspace, run_id)
        model.save(folder / names.MODEL_DIR)
        margins = test_margins(score(model, cache), cache, pairs)
    except SaferError as exc:
        finish_run(workspace, run, error=exc.message)
        raise
    report = report_from_margins(
        pairs.filter(pl.col("split") == "test"), margins["margin"].to_numpy(), "test"
    )
    report.save(folder / names.EVAL_FILE)
    with atomic_file(folder / names.EVAL_PAIRS_FILE) as partial:
        margins.write_parquet(partial)
    edited_counts = plan.counts if plan is not None else {}
    info = {"accuracy": _accuracies(report), "edited": edited_counts, **model.info}
    return RetrainResult(finish_run(workspace, run, **info), report, margins, reused=False)


def test_margins(rewards: np.ndarray, cache: FrozenCache, pairs: pl.DataFrame) -> pl.DataFrame:
    """Each clean test pair's margin r(chosen) − r(rejected) under a run's rewards."""
    test = pairs.filter(pl.col("split") == "test")
    index = cache.pairs_of(test)
    margin = rewards[index[:, 0]] - rewards[index[:, 1]]
    return pl.DataFrame(
        {
            "pair_id": test["pair_id"],
            "slice": test["slice"],
            "margin": margin.astype(np.float64),
            "correct": margin > 0,
        }
    )


def _finished(
    workspace: Workspace, run_id: str, config: dict[str, Any], inputs: dict[str, str]
) -> RetrainResult | None:
    """The run, if it finished with exactly this recipe, data, plan and cache."""
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


def _require_clean_run(workspace: Workspace, recipe: RecipeConfig, seed: int) -> None:
    clean = run_id_of(None, recipe, seed)
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
