"""One cell of the noise benchmark: one noise level and seed, in a workspace of its own.

The noisy workspace (`<workspace>/benchmarks/noise-<X>-s<seed>/`) is a normal workspace that
`safer tui` opens: its data is the noisy table, and the whole loop runs on it as stages
(reward model, its margins, activations, SAE, codes, salience, pair scores); the fast
recipe's models are its runs (the unedited noisy run, one per cleanlab fold, one per method's
removal). Finished stages and runs are reused, so a cell stopped by Ctrl+C or kill -9 goes on
where it stopped. The measures themselves are recomputed from what those saved, in
milliseconds.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.benchmark.methods import SAFER_JUDGE
from safer_engine.benchmark.metrics import Detection, detection, top_k
from safer_engine.benchmark.noise import NoisyData, inject_noise, safety_train
from safer_engine.benchmark.noisy_loop import judge_pair_scores, run_loop, safer_scores
from safer_engine.benchmark.rankings import (
    cleanlab_quality,
    folds_of,
    random_suspicion,
    sigmoid,
)
from safer_engine.config import (
    DataConfig,
    EditConfig,
    ExtractConfig,
    NoiseBenchmarkConfig,
    RMConfig,
    SAEConfig,
)
from safer_engine.data.fingerprint import table_fingerprint
from safer_engine.data.load import PreferenceData
from safer_engine.data.stage import import_data
from safer_engine.data.validate import ValidationReport
from safer_engine.edits.plan import EditPlan, make_plan
from safer_engine.edits.stage import plan_dir, save_plan
from safer_engine.errors import BenchmarkError
from safer_engine.files import atomic_dir, atomic_file, write_text_atomic
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.retrain.recipes import Recipe
from safer_engine.retrain.run import RetrainResult, retrain
from safer_engine.train.evaluate import EvalReport
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import run_dir

KEPT_HINT = "Finished stages and runs are kept; run it again to resume."
"""Runs the removals are compared with: the noisy data as it is, the noisy data without
exactly the flipped pairs, and the clean data."""


@dataclass(frozen=True)
class Cell:
    noise: float
    seed: int

    @property
    def name(self) -> str:
        return f"noise-{self.noise:g}-s{self.seed}"


@dataclass(frozen=True)
class Settings:
    """How the loop runs in every noisy workspace (the seed is each cell's)."""

    config: NoiseBenchmarkConfig
    recipe: Recipe
    rm: RMConfig
    extract: ExtractConfig
    sae: SAEConfig


@dataclass(frozen=True)
class CellOutcome:
    cell: Cell
    root: Path
    flipped: int
    safety_train: int
    detection: dict[str, Detection]
    """Per method: how well its ranking finds the flipped pairs."""
    accuracy: dict[str, dict[str, float]]
    """Per method (after removing its top k) and per reference run: accuracy on the clean
    test pairs by slice, and `all`."""
    rm_accuracy: dict[str, float]
    """The full noisy reward model (the one SAFER reads) on the clean test pairs."""
    cleanlab_flagged: int | None
    """How many pairs cleanlab's `find_label_issues` calls label issues."""
    features: dict[str, str]
    """Per SAFER method: where its safety features came from."""
    ran: tuple[str, ...]
    """Stages run now (the others were reused)."""
    trained: int
    """Runs trained now (the others were reused)."""


def cell_dir(source: Workspace, cell: Cell) -> Path:
    return source.root / names.BENCHMARKS_DIR / cell.name


def run_cell(
    source: Workspace,
    cell: Cell,
    settings: Settings,
    clean: RetrainResult,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> CellOutcome:
    """Flip, run the loop, rank by each method, measure, retrain without each method's most
    suspect pairs."""
    cancel = cancel or CancelToken()
    pairs, _ = source.pairs()
    noisy = inject_noise(pairs, cell.noise, cell.seed)
    root = cell_dir(source, cell)
    before = _fingerprints(Workspace.open(root)) if (root / names.MANIFEST).exists() else {}
    workspace = open_noisy_workspace(source, cell, noisy)
    sae_id = run_loop(workspace, settings, cell.seed, progress, cancel)
    recipe, seed = settings.recipe, cell.seed
    runs = [one_process(retrain(workspace, None, recipe, seed, progress, cancel))]
    suspects = safety_train(workspace.pairs()[0])
    truth = suspects[names.FLIPPED_COLUMN].to_numpy()
    suspicion: dict[str, np.ndarray] = {}
    features: dict[str, str] = {}
    flagged = None
    for method in settings.config.methods:
        cancel.check("the benchmark", KEPT_HINT)
        progress(f"ranking by {method}", 0, None)
        if method == "safer":
            select = settings.config.select
            table, features[method] = safer_scores(workspace, sae_id, select, progress, cancel)
            suspicion[method] = -_column(suspects, table, "score")
        elif method == "margin":
            margins = pl.read_parquet(workspace.rm_dir / names.RM_MARGINS_FILE)
            suspicion[method] = -_column(suspects, margins, "margin")
        elif method == "cleanlab":
            oof = _out_of_fold(workspace, recipe, seed, settings.config.folds, runs, cancel)
            quality, issues = cleanlab_quality(sigmoid(_column(suspects, oof, "margin")))
            suspicion[method], flagged = -quality, int(issues.sum())
        else:
            suspicion[method] = random_suspicion(suspects.height, seed)
    judged = judge_pair_scores(workspace, sae_id, progress, cancel)
    if "safer" in settings.config.methods and judged is not None:
        suspicion[SAFER_JUDGE] = -_column(suspects, judged[0], "score")
        features[SAFER_JUDGE] = judged[1]
    _save_rankings(workspace, suspects, suspicion)
    k = len(noisy.flipped)
    found = {method: detection(truth, values, k) for method, values in suspicion.items()}
    removals = {m: _ids(suspects, top_k(v, k)) for m, v in suspicion.items()}
    removals["oracle"] = list(noisy.flipped)
    accuracy = {"noisy": _report_accuracy(runs[0].report), "clean": _report_accuracy(clean.report)}
    for name, ids in removals.items():
        cancel.check("the benchmark", KEPT_HINT)
        progress(f"retraining without {name}'s top {k}", 0, None)
        plan = _removal_plan(workspace, f"remove-{name}", ids)
        runs.append(one_process(retrain(workspace, plan, recipe, seed, cancel=cancel)))
        accuracy[name] = _report_accuracy(runs[-1].report)
    return CellOutcome(
        cell=cell,
        root=workspace.root,
        flipped=k,
        safety_train=noisy.safety_train,
        detection=found,
        accuracy=accuracy,
        rm_accuracy=_rm_accuracy(workspace),
        cleanlab_flagged=flagged,
        features=features,
        ran=tuple(key for key, fp in _fingerprints(workspace).items() if before.get(key) != fp),
        trained=sum(not run.reused for run in runs),
    )


def open_noisy_workspace(source: Workspace, cell: Cell, noisy: NoisyData) -> Workspace:
    """The cell's workspace with the noisy data imported (reused when it holds this data),
    the truth beside it, and the source's frozen cache copied in (the texts are the same)."""
    root = cell_dir(source, cell)
    workspace = Workspace.open(root, create=True)
    _, source_fingerprint = source.pairs()
    truth = {
        "source": str(source.root),
        "source_data": source_fingerprint,
        "noise": cell.noise,
        "seed": cell.seed,
        "safety_train_pairs": noisy.safety_train,
        "flipped": len(noisy.flipped),
        "flipped_pairs": list(noisy.flipped),
    }
    folder = root / names.BENCHMARK_DIR
    folder.mkdir(exist_ok=True)
    _write_once(folder / names.NOISE_FILE, json.dumps(truth, indent=2) + "\n")
    data = PreferenceData(
        table=noisy.table,
        schema="canonical",
        origin=f"{cell.noise:g}% of the safety train pairs of {source.root} flipped "
        f"(seed {cell.seed})",
        config=DataConfig(source=str(source.pairs_path)),
        report=ValidationReport(),
        fingerprint=table_fingerprint(noisy.table),
        rows_read=noisy.table.height,
    )
    import_data(workspace, data)
    cache, target = source.root / names.FROZEN_CACHE_DIR, root / names.FROZEN_CACHE_DIR
    if cache.is_dir() and not target.exists():
        # build_cache checks the copy's key and rebuilds one that does not fit
        with atomic_dir(target) as partial:
            shutil.copytree(cache, partial, dirs_exist_ok=True)
    return workspace


def _out_of_fold(
    workspace: Workspace,
    recipe: Recipe,
    seed: int,
    folds: int,
    runs: list[RetrainResult],
    cancel: CancelToken,
) -> pl.DataFrame:
    """Every train pair's margin under a model of the recipe trained without its fold."""
    pairs, _ = workspace.pairs()
    train = pairs.filter(pl.col("split") == "train").sort("pair_id")
    fold = folds_of(train.height, folds, seed)
    margins = np.zeros(train.height)
    for j in range(folds):
        cancel.check("the benchmark", KEPT_HINT)
        held_out = train.filter(pl.Series(fold == j))
        plan = _removal_plan(workspace, f"fold-{j + 1}-of-{folds}", held_out["pair_id"].to_list())
        result = one_process(retrain(workspace, plan, recipe, seed, cancel=cancel))
        runs.append(result)
        folder = run_dir(workspace, result.run.run_id)
        margins[fold == j] = recipe.margins(workspace, folder, held_out, no_progress, cancel)
    return pl.DataFrame({"pair_id": train["pair_id"], "margin": margins})


def _removal_plan(workspace: Workspace, name: str, ids: list[str]) -> EditPlan:
    """A manual plan removing `ids`, its list kept as `benchmark/<name>.txt`."""
    relative = f"{names.BENCHMARK_DIR}/{name}.txt"
    _write_once(workspace.root / relative, "".join(f"{i}\n" for i in ids))
    pairs, fingerprint = workspace.pairs()
    config = EditConfig(mode="manual", action="remove", pairs=relative)
    plan = make_plan(pairs, fingerprint, config, manual_ids=ids)
    if not (plan_dir(workspace, plan.plan_id) / names.PLAN_FILE).is_file():
        save_plan(workspace, plan)  # a plan's id hashes its content: an existing one is this
    return plan


def _write_once(path: Path, text: str) -> None:
    """Write `path` unless it already holds `text` (a resumed benchmark rewrites nothing)."""
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)


def _column(suspects: pl.DataFrame, table: pl.DataFrame, column: str) -> np.ndarray:
    """`column` of `table` for each suspect pair, in the suspects' order."""
    joined = suspects.select("pair_id").join(
        table.select("pair_id", column), on="pair_id", how="left", maintain_order="left"
    )
    values = joined[column].to_numpy().astype(np.float64)
    if np.isnan(values).any():
        raise BenchmarkError(
            f"Some safety train pairs have no {column} (the saved results are of other data).",
            "Delete the noisy workspace's folder and run the benchmark again.",
        )
    return values


def _ids(suspects: pl.DataFrame, rows: np.ndarray) -> list[str]:
    return sorted(suspects["pair_id"].gather(rows).to_list())


def _report_accuracy(report: EvalReport) -> dict[str, float]:
    return {"all": report.overall.accuracy, **{s.name: s.accuracy for s in report.slices}}


def _rm_accuracy(workspace: Workspace) -> dict[str, float]:
    return _report_accuracy(EvalReport.load(workspace.eval_path))


def _save_rankings(
    workspace: Workspace, suspects: pl.DataFrame, suspicion: dict[str, np.ndarray]
) -> None:
    """Each method's suspicion and rank (1 = most suspect) of every safety train pair."""
    columns: dict[str, Any] = {
        "pair_id": suspects["pair_id"],
        names.CLEAN_PAIR_ID_COLUMN: suspects[names.CLEAN_PAIR_ID_COLUMN],
        names.FLIPPED_COLUMN: suspects[names.FLIPPED_COLUMN],
    }
    for method, values in suspicion.items():
        rank = np.empty(values.size, dtype=np.int64)
        rank[top_k(values, values.size)] = np.arange(1, values.size + 1)
        columns[method] = values
        columns[f"{method}_rank"] = rank
    path, frame = workspace.root / names.BENCHMARK_DIR / names.RANKINGS_FILE, pl.DataFrame(columns)
    if path.is_file() and pl.read_parquet(path).equals(frame):
        return
    with atomic_file(path) as partial:
        frame.write_parquet(partial)


def _fingerprints(workspace: Workspace) -> dict[str, str]:
    return {key: record.fingerprint for key, record in workspace.records().items()}


def one_process(result: RetrainResult | None) -> RetrainResult:
    """A retrain's result where the benchmark runs it: in one process (it is no launch)."""
    if result is None:
        raise BenchmarkError(
            "The noise benchmark runs in one process.",
            "Run `safer benchmark noise` without `accelerate launch`.",
        )
    return result
