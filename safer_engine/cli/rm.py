"""`safer train-rm` and `safer eval`: the reward model of a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from safer_engine.cli.app import app, err, out
from safer_engine.cli.data import Columns, parse_columns
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.cli.render import show_eval
from safer_engine.config import DataConfig, RMConfig
from safer_engine.workspace import Workspace


@app.command("train-rm")
@config_options(
    RMConfig,
    help={"model": "minilm, smollm2, a local folder or .gguf, or a hub id."},
)
def train_rm(
    config: RMConfig,
    workspace: WorkspaceOption,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard checkpoints and any trained model.")
    ] = False,
) -> None:
    """Train a Bradley–Terry reward model on the workspace's train split (resumable)."""
    from safer_engine.train.stage import train_rm_stage

    ws = Workspace.open(workspace)
    with rich_progress(err, "Reward model") as progress:
        result = train_rm_stage(ws, config, progress, fresh=fresh)
    if not result.is_main:
        return
    if result.train is None:
        out.print(f"[green]Reward model up to date[/] in {ws.rm_model_dir} (--fresh retrains)")
        return
    run = result.train
    resumed = f", resumed from {run.resumed_from}" if run.resumed_from else ""
    out.print(
        f"[green]Reward model trained[/]: {run.steps} step{'s' * (run.steps != 1)} in "
        f"{run.seconds:.0f} s{resumed}; saved to {ws.rm_model_dir}"
    )


@app.command("eval")
def eval_rm(
    workspace: WorkspaceOption,
    split: Annotated[
        str | None,
        typer.Option(help="test, train or all (default: test; all with --data)."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Evaluate on another data set (file, folder or hub id) instead."),
    ] = None,
    columns_text: Columns = None,
) -> None:
    """Pairwise accuracy of the workspace's reward model, per slice, into rm/eval.json."""
    from safer_engine.train.stage import eval_stage

    ws = Workspace.open(workspace)
    other = DataConfig(source=data, columns=parse_columns(columns_text)) if data else None
    with rich_progress(err, "Evaluating") as progress:
        report, path = eval_stage(ws, split or ("all" if data else "test"), other, progress)
    show_eval(out, report)
    out.print(f"Report written to {path}")
