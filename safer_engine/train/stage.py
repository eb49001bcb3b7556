"""The reward-model stages of a workspace: train (`rm`) and evaluate (`eval`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from safer_engine.config import DataConfig, RMConfig
from safer_engine.data.load import load_preferences
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.evaluate import EvalReport, evaluate_reward_model
from safer_engine.train.reward import TrainResult, train_reward_model
from safer_engine.workspace import Workspace

RM_STAGE = "rm"
EVAL_STAGE = "eval"


@dataclass(frozen=True)
class RMStageResult:
    """`train` is None when an up-to-date model was reused."""

    train: TrainResult | None
    is_main: bool = True


def train_rm_stage(
    workspace: Workspace,
    config: RMConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    fresh: bool = False,
) -> RMStageResult:
    table, fingerprint = workspace.pairs()
    previous = workspace.stage(RM_STAGE)
    if (
        not fresh
        and previous is not None
        and previous.get("config") == config.to_dict()
        and previous.get("data_fingerprint") == fingerprint
        and workspace.rm_model_dir.exists()
    ):
        return RMStageResult(train=None)
    result = train_reward_model(
        table, fingerprint, config, workspace.rm_dir, progress, cancel, fresh=fresh
    )
    if result.is_main:
        config.save(workspace.rm_dir / "rm_config.json")
        workspace.record_stage(
            RM_STAGE,
            config=config.to_dict(),
            data_fingerprint=fingerprint,
            steps=result.steps,
            seconds=round(result.seconds, 1),
        )
    return RMStageResult(train=result, is_main=result.is_main)


def eval_stage(
    workspace: Workspace,
    split: str = "test",
    data: DataConfig | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[EvalReport, Path]:
    """Evaluate the workspace's RM on its own pairs, or on another data source; return the
    report and where it was written."""
    if data is None:
        table, fingerprint = workspace.pairs()
        target = workspace.rm_dir / "eval.json"
    else:
        loaded = load_preferences(data, progress, cancel)
        table, fingerprint = loaded.table, loaded.fingerprint
        target = workspace.rm_dir / f"eval-{fingerprint[:12]}.json"
    report = evaluate_reward_model(workspace.rm_model_dir, table, split, progress, cancel)
    report.save(target)
    rm = workspace.stage(RM_STAGE) or {}
    workspace.record_stage(
        EVAL_STAGE,
        split=split,
        data_fingerprint=fingerprint,
        rm_finished=rm.get("finished"),
        report=str(target.name),
    )
    return report, target


def eval_is_current(workspace: Workspace) -> bool:
    """True when eval.json belongs to the current model and data (the demo reuses it)."""
    evaluated, rm, data = (workspace.stage(n) for n in (EVAL_STAGE, RM_STAGE, "data"))
    return (
        evaluated is not None
        and rm is not None
        and data is not None
        and evaluated.get("rm_finished") == rm.get("finished")
        and evaluated.get("data_fingerprint") == data.get("fingerprint")
        and (workspace.rm_dir / "eval.json").exists()
    )
