"""`safer benchmark noise`: every noise level and seed in a noisy workspace of its own, then
one report.

The clean runs (one per seed, the fast recipe on the clean data) live in the source
workspace; everything else in the cells' workspaces. Every model is a workspace stage or run,
reused once finished, so a benchmark stopped by Ctrl+C or kill -9 resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from safer_engine import artifacts as names
from safer_engine.benchmark.cell import (
    KEPT_HINT,
    Cell,
    CellOutcome,
    Settings,
    one_process,
    run_cell,
)
from safer_engine.benchmark.noise import inject_noise
from safer_engine.benchmark.rankings import require_cleanlab
from safer_engine.benchmark.report import write_report
from safer_engine.config import (
    Config,
    ExtractConfig,
    NoiseBenchmarkConfig,
    RMConfig,
    SAEConfig,
    SelectionConfig,
)
from safer_engine.errors import ConfigError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.retrain.recipes import Recipe
from safer_engine.retrain.run import RetrainResult, retrain
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import EXTRACT, RM, SAE

C = TypeVar("C", bound=Config)
TITLE = "How well does each method find flipped labels?"


@dataclass(frozen=True)
class BenchmarkResult:
    report: Path
    outcomes: list[CellOutcome]
    seconds: float
    ran: int
    """Stages run now, over every cell (the others were reused)."""
    trained: int
    """Retraining runs trained now, clean runs included."""


def grid(config: NoiseBenchmarkConfig) -> list[Cell]:
    """Every cell, noise level by noise level."""
    return [Cell(noise, seed) for noise in config.noise for seed in range(config.seeds)]


def settings_for(source: Workspace, config: NoiseBenchmarkConfig, recipe: Recipe) -> Settings:
    """The loop of every noisy workspace runs as the source workspace's did (its recorded
    configs; the defaults where it has none), with each cell's seed and the epochs asked."""
    rm = _config(source, RM, None, RMConfig)
    if config.rm_epochs is not None:
        rm = dataclasses.replace(rm, epochs=config.rm_epochs, max_steps=-1)
    sae_ids = source.sae_ids()
    sae = _config(source, SAE, sae_ids[-1] if sae_ids else None, SAEConfig)
    if config.sae_epochs is not None:
        sae = dataclasses.replace(sae, epochs=config.sae_epochs)
    extract = _config(source, EXTRACT, None, ExtractConfig)
    return Settings(config, recipe, rm, extract, sae)


def _config(source: Workspace, kind: str, sae_id: str | None, cls: type[C]) -> C:
    """The source's recorded config of a stage, or the defaults."""
    record = None if kind == SAE and sae_id is None else source.stage(kind, sae_id)
    if record is None:
        return cls()
    try:
        return cls.from_dict(record.config)
    except (ConfigError, TypeError):  # an imported SAE records no training config
        return cls()


def benchmark_id(settings: Settings) -> str:
    payload = json.dumps(
        [
            settings.config.to_dict(),
            [settings.recipe.name, settings.recipe.settings()],
            settings.rm.to_dict(),
            settings.sae.to_dict(),
            settings.extract.to_dict(),
        ],
        sort_keys=True,
    )
    return "noise-" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:8]


def check_inputs(source: Workspace, config: NoiseBenchmarkConfig) -> None:
    """Fail before any training: the data, every noise level, and the packages asked for."""
    pairs, _ = source.pairs()
    for noise in config.noise:
        inject_noise(pairs, noise, 0)
    if "cleanlab" in config.methods:
        require_cleanlab()


def run_noise_benchmark(
    source: Workspace,
    config: NoiseBenchmarkConfig,
    recipe: Recipe,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BenchmarkResult:
    """Run (or resume) every cell, then write `benchmarks/report-<id>/report.md` and
    `report.png` in the source workspace."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    check_inputs(source, config)
    settings = settings_for(source, config, recipe)
    clean: dict[int, RetrainResult] = {}
    for seed in range(config.seeds):
        progress("clean runs", seed, config.seeds)
        clean[seed] = one_process(retrain(source, None, recipe, seed, progress, cancel))
    cells = grid(config)
    outcomes = []
    for number, cell in enumerate(cells):
        cancel.check("the benchmark", KEPT_HINT)
        progress(f"{cell.name} ({number + 1} of {len(cells)})", number, len(cells))
        label = f"{cell.name} ({number + 1}/{len(cells)})"

        def step(task: str, done: int, total: int | None, label: str = label) -> None:
            progress(f"{label}: {task}", done, total)

        outcomes.append(run_cell(source, cell, settings, clean[cell.seed], step, cancel))
    progress("report", len(cells), len(cells))
    seconds = time.perf_counter() - started
    ran = sum(len(o.ran) for o in outcomes)
    trained = sum(o.trained for o in outcomes) + sum(not r.reused for r in clean.values())
    folder = source.root / names.BENCHMARKS_DIR / f"report-{benchmark_id(settings)}"
    notes = _notes(source, settings, outcomes, ran, trained, seconds)
    report, _ = write_report(outcomes, folder, TITLE, notes)
    return BenchmarkResult(report, outcomes, seconds, ran, trained)


def _notes(
    source: Workspace,
    settings: Settings,
    outcomes: list[CellOutcome],
    ran: int,
    trained: int,
    seconds: float,
) -> list[str]:
    config, rm, sae = settings.config, settings.rm, settings.sae
    levels = ",".join(f"{n:g}" for n in config.noise)
    length = f"{rm.max_steps} steps" if rm.max_steps > 0 else f"{rm.epochs:g} epochs"
    features = sorted({how for o in outcomes for how in o.features.values()})
    lines = [
        f"Workspace `{source.root}`. Command: `safer benchmark noise --workspace DIR --noise "
        f"{levels} --seeds {config.seeds} --methods {','.join(config.methods)}"
        f"{'' if config.select == 'salience' else ' --select ' + config.select}`.",
        f"{len(outcomes)} noisy workspaces (`benchmarks/noise-<X>-s<seed>/`), {ran} stages "
        f"run now and the rest reused, {trained} {settings.recipe.name}-recipe runs trained now; "
        f"{seconds / 60:.1f} min.",
        f"Each noisy workspace runs the whole loop on its noisy data: the reward model with the "
        f"full `train-rm` recipe ({rm.model}, {length}, seed = the cell's), its activations at "
        f"the same layer as the source's, an SAE ({sae.epochs:g} epochs), salience and pair "
        "scores. SAFER ranks the safety train pairs by pair score, lowest first; the margin "
        "method by that same reward model's margin r(chosen) − r(rejected) on its own train "
        "pairs; cleanlab by its label-quality score of out-of-fold probabilities "
        f"σ(margin) from {config.folds} {settings.recipe.name}-recipe models (each trained "
        "without one fold); random by a seeded draw.",
        "Precision and recall are among the k most suspect pairs, k = the number flipped, so "
        "the two are equal. Each method's top k are then removed and the reward model is "
        f"retrained with the {settings.recipe.name} recipe ({settings.recipe.description}) "
        "Every accuracy is on the clean test pairs, by the same recipe: the noisy data as it "
        "is, without exactly the flipped pairs (oracle), and the clean data.",
        "Intervals: 95% t-intervals of the mean over seeds.",
    ]
    if features:
        lines.append(f"SAFER's features: {'; '.join(features)}.")
    if any(o.features.get("safer", "").endswith("by salience") for o in outcomes):
        lines.append(
            f"Nobody tagged or judged these features: they are the top {SelectionConfig().top} "
            "by |salience| alone (the paper's candidate set)."
        )
    if any(o.features.get("safer", "").endswith("by effect") for o in outcomes):
        lines.append(
            f"Nobody tagged or judged these features: they are the top {SelectionConfig().top} "
            "by |effect| (mean attribution to the margin, `safer attribute` in each noisy "
            "workspace) alone."
        )
    rm_lines = []
    for noise in config.noise:
        cells = [o for o in outcomes if o.cell.noise == noise]
        safety = [o.rm_accuracy.get("safety", float("nan")) for o in cells]
        general = [o.rm_accuracy.get("general", float("nan")) for o in cells]
        rm_lines.append(
            f"{noise:g}%: safety {sum(safety) / len(safety):.3f}, "
            f"general {sum(general) / len(general):.3f}"
        )
    lines.append(
        "The noisy reward models themselves (full recipe) on the clean test pairs, mean over "
        f"seeds: {'; '.join(rm_lines)}."
    )
    return lines
