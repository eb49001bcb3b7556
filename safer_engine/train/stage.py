"""The reward-model stages of a workspace: train (`rm`), evaluate (`eval`) and every pair's
margin under it (`margins`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from safer_engine.artifacts import RM_CONFIG, RM_MARGINS_FILE
from safer_engine.config import DataConfig, RMConfig
from safer_engine.data.load import load_preferences
from safer_engine.files import atomic_file
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.evaluate import (
    EvalReport,
    evaluate_reward_model,
    pair_margins,
    report_from_margins,
)
from safer_engine.train.reward import TrainResult, train_reward_model
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import EVAL, MARGINS, RM


@dataclass(frozen=True)
class RMStageResult:
    """`train` is None when an up-to-date model was reused."""

    train: TrainResult | None
    is_main: bool = True


def rm_stage(workspace: Workspace, config: RMConfig) -> Stage:
    model = workspace.relative(workspace.rm_model_dir)
    return Stage(RM, config.to_dict(), workspace.inputs(RM), (model,))


def eval_stage_of(workspace: Workspace, split: str) -> Stage:
    """Evaluating the workspace's own reward model on its own pairs' `split`."""
    report = workspace.relative(workspace.eval_path)
    return Stage(EVAL, {"split": split}, workspace.inputs(EVAL), (report,))


def train_rm_stage(
    workspace: Workspace,
    config: RMConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    fresh: bool = False,
) -> RMStageResult:
    table, fingerprint = workspace.pairs()
    stage = rm_stage(workspace, config)
    if not fresh and workspace.is_current(stage):
        return RMStageResult(train=None)
    result = train_reward_model(
        table, fingerprint, config, workspace.rm_dir, progress, cancel, fresh=fresh
    )
    if result.is_main:
        config.save(workspace.rm_dir / RM_CONFIG)
        workspace.record(stage, steps=result.steps, seconds=round(result.seconds, 1))
    return RMStageResult(train=result, is_main=result.is_main)


def eval_stage(
    workspace: Workspace,
    split: str = "test",
    data: DataConfig | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[EvalReport, Path]:
    """Evaluate the workspace's RM on its own pairs (the `eval` stage, into `eval.json`), or
    on another data source; return the report and where it was written."""
    if data is None:
        table, _ = workspace.pairs()
        target = workspace.eval_path
    else:
        loaded = load_preferences(data, progress, cancel)
        table = loaded.table
        target = workspace.rm_dir / f"eval-{loaded.fingerprint[:12]}.json"
    report = evaluate_reward_model(workspace.rm_model_dir, table, split, progress, cancel)
    report.save(target)
    if data is None:
        workspace.record(eval_stage_of(workspace, split))
    return report, target


def eval_from_margins(
    workspace: Workspace, margins: pl.DataFrame, split: str = "test"
) -> EvalReport:
    """The eval stage without a forward pass: its report from the margins stage's margins
    (the same model on the same pairs), for callers that have them already."""
    stage = eval_stage_of(workspace, split)
    if workspace.is_current(stage):
        return EvalReport.load(workspace.eval_path)
    table, _ = workspace.pairs()
    part = table if split == "all" else table.filter(pl.col("split") == split)
    part = part.join(margins.select("pair_id", "margin"), on="pair_id")
    report = report_from_margins(part, part["margin"].to_numpy(), split)
    report.save(workspace.eval_path)
    workspace.record(stage, from_margins=True)
    return report


def eval_is_current(workspace: Workspace) -> bool:
    """True when `eval.json` belongs to the current model and data (the demo reuses it)."""
    return workspace.is_current(eval_stage_of(workspace, "test"))


def margins_stage(
    workspace: Workspace,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> pl.DataFrame:
    """Every pair's margin r(chosen) − r(rejected) under the workspace's reward model, all
    splits (`rm/margins.parquet`: pair_id, slice, split, margin); reused while the model and
    the data are unchanged."""
    path = workspace.rm_dir / RM_MARGINS_FILE
    stage = Stage(MARGINS, {}, workspace.inputs(MARGINS), (workspace.relative(path),))
    if workspace.is_current(stage):
        return pl.read_parquet(path)
    table, _ = workspace.pairs()
    margins = pair_margins(workspace.rm_model_dir, table, progress, cancel)
    frame = table.select("pair_id", "slice", "split").with_columns(
        pl.Series("margin", margins.astype("float64"))
    )
    with atomic_file(path) as partial:
        frame.write_parquet(partial)
    workspace.record(stage, pairs=frame.height)
    return frame
