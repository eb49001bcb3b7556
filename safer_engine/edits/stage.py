"""Edit plans in a workspace: made from its pairs (and, for poison and denoise, the pair
scores of its safety features), kept as `edits/<plan-id>/plan.json`, found by id or path."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from safer_engine import artifacts as names
from safer_engine.config import EditConfig, SelectionConfig
from safer_engine.config.edits import SCORED_MODES
from safer_engine.edits.plan import EditPlan, make_plan
from safer_engine.errors import EditError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.stage import PairScores, preview_pair_scores, save_pair_scores
from safer_engine.workspace import Workspace


def plan_edits(
    workspace: Workspace,
    config: EditConfig,
    selection: SelectionConfig | None = None,
    sae_id: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> EditPlan:
    """A new plan for the workspace's train pairs; the pair scores it ranks by are saved as
    `safer score-pairs` saves them, the plan is not (see `save_plan`)."""
    plan, scores = preview_plan(workspace, config, selection, sae_id, progress, cancel)
    if scores is not None:
        save_pair_scores(workspace, scores)
    return plan


def preview_plan(
    workspace: Workspace,
    config: EditConfig,
    selection: SelectionConfig | None = None,
    sae_id: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[EditPlan, PairScores | None]:
    """A new plan and the pair scores it ranks by (None for plans that use none), with
    nothing written: `save_pair_scores` and `save_plan` keep them."""
    pairs, fingerprint = workspace.pairs()
    if config.mode not in SCORED_MODES:
        ids = (
            read_pair_ids(Path(config.pairs)) if config.mode == "manual" and config.pairs else None
        )
        return make_plan(pairs, fingerprint, config, manual_ids=ids), None
    sae = sae_id or _latest_sae(workspace)
    selection = selection or SelectionConfig()
    judged = judge_scores(workspace, sae)
    scored = preview_pair_scores(workspace, sae, selection, judged, progress, cancel)
    if not scored.selection.features:
        raise EditError(
            f"No feature is selected as a safety feature ({scored.selection.source}), so every "
            "pair scores 0 and no ranking exists.",
            "Tag features safe or unsafe in the explorer, lower --judge-threshold, or use "
            "--select salience.",
        )
    chosen = {**scored.selection.to_dict(), "sae_id": sae}
    return make_plan(pairs, fingerprint, config, scored.table, chosen), scored


def plan_dir(workspace: Workspace, plan_id: str) -> Path:
    return workspace.root / names.EDITS_DIR / plan_id


def save_plan(workspace: Workspace, plan: EditPlan) -> Path:
    path = plan_dir(workspace, plan.plan_id) / names.PLAN_FILE
    plan.save(path)
    return path


def find_plan(reference: str, workspace: Path | None = None) -> tuple[Workspace, EditPlan]:
    """A plan by its id in `workspace`, or by the path of its file or folder (whose workspace
    is then the one it lives in)."""
    path = Path(reference).expanduser()
    if path.name == names.PLAN_FILE or (path / names.PLAN_FILE).is_file():
        file = path if path.name == names.PLAN_FILE else path / names.PLAN_FILE
        root = workspace or file.resolve().parents[2]
        return Workspace.open(root), EditPlan.load(file)
    if workspace is None:
        raise EditError(
            f"{reference} is neither a plan file nor a plan folder.",
            "Give the plan's path, or its id with --workspace DIR.",
        )
    ws = Workspace.open(workspace)
    return ws, EditPlan.load(plan_dir(ws, reference) / names.PLAN_FILE)


def list_plans(workspace: Workspace) -> list[EditPlan]:
    """Every saved plan of the workspace, by id."""
    folder = workspace.root / names.EDITS_DIR
    files = sorted(folder.glob(f"*/{names.PLAN_FILE}")) if folder.is_dir() else []
    return [EditPlan.load(path) for path in files]


def read_pair_ids(path: Path) -> list[str]:
    """Pair ids from a text file (one per line) or a CSV/parquet with a pair_id column."""
    if not path.is_file():
        raise EditError(f"{path}: no such file of pair ids.", "Give one pair id per line.")
    if path.suffix in (".csv", ".parquet"):
        frame = pl.read_csv(path) if path.suffix == ".csv" else pl.read_parquet(path)
        if "pair_id" not in frame.columns:
            raise EditError(f"{path} has no pair_id column.", "Add one, or list ids one per line.")
        return [str(v) for v in frame["pair_id"].to_list()]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _latest_sae(workspace: Workspace) -> str:
    saes = workspace.sae_ids()
    if not saes:
        raise EditError(
            f"{workspace.root} has no SAE, so no pair scores to rank pairs by.",
            "Run `safer demo` or the SAE steps first, or use --mode random-flip/random-remove.",
        )
    return saes[-1]
