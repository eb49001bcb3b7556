"""`safer experiment`: clean runs, SAFER poisoning against random flipping, SAFER denoising
against random removal, at several ratios and seeds, then the report.

Every run is a normal workspace run reused once finished, so an experiment stopped by Ctrl+C or
kill -9 resumes where it stopped. SAFER plans rank pairs by the same selection of safety
features for every seed; the random baselines draw anew for each seed. With several recipes
each trains the whole grid on the same plans, and the report keeps them apart.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from safer_engine import artifacts as names
from safer_engine.config import EditConfig, ExperimentConfig, SelectionConfig
from safer_engine.edits.plan import EditPlan
from safer_engine.edits.stage import plan_edits, save_plan
from safer_engine.experiment.report import RunOutcome, summarise, write_report
from safer_engine.experiment.verdicts import verdict_markdown, verdicts
from safer_engine.launch import is_main_process
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.retrain.recipes import Recipe
from safer_engine.retrain.run import retrain
from safer_engine.workspace import Workspace

METHODS = {
    "safer-poison": "poison",
    "random-flip": "random-flip",
    "safer-denoise": "denoise",
    "random-remove": "random-remove",
}
"""Report method → edit mode."""


@dataclass(frozen=True)
class Setting:
    """One cell of the grid: a method at a ratio (clean: ratio 0, no plan)."""

    method: str
    ratio: float
    seed: int


@dataclass(frozen=True)
class ExperimentResult:
    report: Path | None
    """None on the other processes of a launch."""
    runs: int
    trained: int
    """Runs trained now; the others were reused from earlier."""
    seconds: float


def settings(config: ExperimentConfig) -> list[Setting]:
    """Every run of the grid, seed by seed, clean first (`config`'s ratios filled in)."""
    assert config.poison is not None and config.denoise is not None
    grid = []
    for seed in range(config.seeds):
        grid.append(Setting("clean", 0.0, seed))
        for method in ("safer-poison", "random-flip"):
            grid += [Setting(method, r, seed) for r in config.poison]
        for method in ("safer-denoise", "random-remove"):
            grid += [Setting(method, r, seed) for r in config.denoise]
    return grid


def experiment_id(
    config: ExperimentConfig, recipes: list[Recipe], selection: SelectionConfig
) -> str:
    trained = [[recipe.name, recipe.settings()] for recipe in recipes]
    payload = json.dumps([config.to_dict(), trained, selection.to_dict()], sort_keys=True)
    return "experiment-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]


def run_experiment(
    workspace: Workspace,
    config: ExperimentConfig,
    recipes: list[Recipe],
    selection: SelectionConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ExperimentResult:
    """Train what is missing of the grid with each recipe, then write
    `experiments/<id>/report.md` and `report.png`."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    config = config.for_recipes(tuple(recipe.name for recipe in recipes))
    grid = [(recipe, setting) for recipe in recipes for setting in settings(config)]
    plans: dict[tuple[str, float, int], EditPlan] = {}
    outcomes, trained = [], 0
    for number, (recipe, setting) in enumerate(grid):
        cancel.check("the experiment", "Finished runs are kept; run it again to resume.")
        label = f"run {number + 1} of {len(grid)} ({recipe.name})"
        progress(label, number, len(grid))

        def step(task: str, done: int, total: int | None, label: str = label) -> None:
            progress(f"{label}: {task}", done, total)

        plan = _plan(workspace, setting, selection, plans)
        result = retrain(workspace, plan, recipe, setting.seed, step, cancel)
        if result is None:  # another process of a launch: the main one reports
            continue
        trained += not result.reused
        edited = plan.counts if plan is not None else {}
        correct = result.margins.select("pair_id", "slice", "correct")
        learned = result.run.info.get("flips_learned")
        outcomes.append(
            RunOutcome(
                setting.method, setting.ratio, setting.seed, correct, edited, recipe.name, learned
            )
        )
    seconds = time.perf_counter() - started
    if not is_main_process():
        return ExperimentResult(None, len(grid), trained, seconds)
    progress("report", len(grid), len(grid))
    summary = summarise(outcomes)
    folder = workspace.root / names.EXPERIMENTS_DIR / experiment_id(config, recipes, selection)
    notes = _notes(workspace, config, recipes, selection, plans, len(grid), trained, seconds)
    found = verdicts(outcomes)
    tail = verdict_markdown(found) if len(recipes) > 1 and found.height else []
    title = "SAFER edits against random edits"
    report = write_report(summary, folder, title, notes, tail, {"verdicts": found})
    return ExperimentResult(report, len(grid), trained, seconds)


def _plan(
    workspace: Workspace,
    setting: Setting,
    selection: SelectionConfig,
    plans: dict[tuple[str, float, int], EditPlan],
) -> EditPlan | None:
    """The setting's plan, made once (SAFER plans are the same for every seed)."""
    if setting.method == "clean":
        return None
    mode = METHODS[setting.method]
    seed = setting.seed if mode.startswith("random") else 0
    key = (mode, setting.ratio, seed)
    if key not in plans:
        config = EditConfig(mode=mode, ratio=setting.ratio, seed=seed)  # type: ignore[arg-type]
        plan = plan_edits(workspace, config, selection)
        save_plan(workspace, plan)
        plans[key] = plan
    return plans[key]


def _notes(
    workspace: Workspace,
    config: ExperimentConfig,
    recipes: list[Recipe],
    selection: SelectionConfig,
    plans: dict[tuple[str, float, int], EditPlan],
    runs: int,
    trained: int,
    seconds: float,
) -> list[str]:
    pairs, _ = workspace.pairs()
    safer = next((p for p in plans.values() if p.selection), None)
    source = safer.selection.get("source", "?") if safer and safer.selection else "?"
    features = len(safer.selection["features"]) if safer and safer.selection else 0
    poison = ",".join(f"{r:g}" for r in config.poison or ())
    denoise = ",".join(f"{r:g}" for r in config.denoise or ())
    names_ = ",".join(recipe.name for recipe in recipes)
    lines = [
        f"Workspace `{workspace.root}`: {pairs.height:,} pairs. Command: `safer experiment "
        f"--workspace DIR --recipe {names_} --poison {poison} --denoise {denoise} "
        f"--seeds {config.seeds}`.",
        f"{runs} runs ({trained} trained now, {runs - trained} reused), {seconds:.0f} s.",
        f"SAFER ranks pairs by {features} safety features from {source} "
        f"(select {selection.select}, top {selection.top}).",
        *(f"Recipe {recipe.name}: {recipe.description}" for recipe in recipes),
        "Every run trains on the (edited) train split and is tested on the clean test split; "
        "changes are against the clean run of the same seed and recipe, with 95% bootstrap "
        "intervals over seeds and test pairs.",
    ]
    if source == "salience":
        lines.append(
            "Nothing was tagged or judged: the safety features are the top features by "
            "|salience| alone (the paper's candidate set)."
        )
    elif source == "effect":
        lines.append(
            "Nothing was tagged or judged: the safety features are the top features by "
            "|effect| (mean attribution to the margin over train pairs, `safer attribute`) "
            "alone."
        )
    return lines
