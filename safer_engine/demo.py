"""`safer demo`: the whole loop on the embedded demo data, reusing finished stages."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from safer_engine.config import (
    AttributionConfig,
    DataConfig,
    EditConfig,
    ExtractConfig,
    RMConfig,
    SAEConfig,
    SelectionConfig,
)
from safer_engine.data.load import load_preferences
from safer_engine.data.stage import ImportResult, import_data
from safer_engine.errors import DataError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.retrain.run import RetrainResult
from safer_engine.scores.selection import Selection
from safer_engine.train.evaluate import EvalReport
from safer_engine.workspace import Workspace

DEMO_FILE = Path("demo") / "pairs.parquet"
POISON_RATIO = 5.0


def demo_data_path() -> Path:
    """The embedded demo pairs: in the source tree, or where a wheel install put them."""
    candidates = (
        Path(__file__).resolve().parents[1] / "assets" / DEMO_FILE,
        Path(sys.prefix) / "share" / "safer-explorer" / DEMO_FILE,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(
        "The embedded demo data is missing from this installation.",
        "Reinstall safer-explorer, or rebuild it with scripts/build_demo_data.py.",
    )


@dataclass(frozen=True)
class DemoResult:
    """The demo workspace, what each stage did (True = reused), and the RM's evaluation."""

    workspace: Workspace
    data: ImportResult
    stages: dict[str, bool]
    evaluation: EvalReport
    sae_id: str
    comparison: DemoComparison


@dataclass(frozen=True)
class DemoComparison:
    """The effect of editing the data: clean, SAFER-poisoned and randomly flipped runs."""

    selection: Selection
    ratio: float
    runs: dict[str, RetrainResult]
    """clean, SAFER poisoning and random flipping, each trained with `recipe`."""
    recipe: str = "fast"


def run_demo(
    root: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    rm_config: RMConfig | None = None,
    extract_config: ExtractConfig | None = None,
    sae_config: SAEConfig | None = None,
) -> DemoResult:
    from safer_engine.activations.stage import extract_stage
    from safer_engine.attribution.stage import attribute
    from safer_engine.sae.stage import encode_stage, train_sae_stage
    from safer_engine.salience.stage import salience_stage
    from safer_engine.train.stage import eval_is_current, eval_stage, train_rm_stage

    pairs = load_preferences(DataConfig(source=str(demo_data_path())), progress, cancel)
    workspace = Workspace.open(root, create=True)
    data = import_data(workspace, pairs)
    rm = train_rm_stage(workspace, rm_config or RMConfig(), progress, cancel)
    reuse_eval = rm.train is None and eval_is_current(workspace)
    if reuse_eval:
        report = EvalReport.load(workspace.eval_path)
    else:
        report, _ = eval_stage(workspace, "test", None, progress, cancel)
    extracted = extract_stage(workspace, extract_config or ExtractConfig(), progress, cancel)
    sae_id, trained = train_sae_stage(workspace, sae_config or SAEConfig(), None, progress, cancel)
    encoded = encode_stage(workspace, sae_id, progress, cancel)
    ranked = salience_stage(workspace, sae_id, "train", progress, cancel)
    attributed = attribute(workspace, sae_id, AttributionConfig(), progress, cancel)
    comparison = compare_edits(workspace, sae_id, progress, cancel)
    stages = {
        "data": data.reused,
        "reward model": rm.train is None,
        "evaluation": reuse_eval,
        "activations": extracted is None,
        "SAE": trained is None,
        "codes": encoded is None,
        "salience": ranked is None,
        "attribution": attributed.reused,
        "retraining": all(run.reused for run in comparison.runs.values()),
    }
    return DemoResult(workspace, data, stages, report, sae_id, comparison)


def compare_edits(
    workspace: Workspace,
    sae_id: str,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    ratio: float = POISON_RATIO,
) -> DemoComparison:
    """Poison the top `ratio`% of train pairs by pair score, flip as many at random, and
    retrain both and the clean data with the fast recipe (one seed each)."""
    from safer_engine.edits.stage import plan_edits, save_plan
    from safer_engine.retrain.recipes import make_recipe
    from safer_engine.retrain.run import retrain
    from safer_engine.scores.judged import judge_scores
    from safer_engine.scores.stage import score_pairs

    selection = SelectionConfig()
    scored = score_pairs(
        workspace, sae_id, selection, judge_scores(workspace, sae_id), progress, cancel
    )
    recipe = make_recipe(workspace, "fast")
    runs = {"clean": _ran(retrain(workspace, None, recipe, 0, progress, cancel))}
    for label, mode in (("SAFER poisoning", "poison"), ("random flipping", "random-flip")):
        plan = plan_edits(workspace, EditConfig(mode=mode, ratio=ratio), selection, sae_id)  # type: ignore[arg-type]
        save_plan(workspace, plan)
        runs[label] = _ran(retrain(workspace, plan, recipe, 0, progress, cancel))
    return DemoComparison(scored.selection, ratio, runs, recipe.name)


def _ran(result: RetrainResult | None) -> RetrainResult:
    assert result is not None, "the demo runs in one process"
    return result
