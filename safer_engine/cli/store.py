"""`safer extract` and `safer store …`: the activation store of a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import app, err, group, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import ExtractConfig
from safer_engine.errors import SaferError
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import DATA

store_app = group("store", "Inspect and verify the activation store.")


@app.command()
@config_options(
    ExtractConfig,
    help={
        "layer": "Block whose output to keep (default: about 3/4 of the depth).",
        "normalise": "Readers standardise each token vector (the paper's rule).",
    },
)
def extract(
    config: ExtractConfig,
    workspace: WorkspaceOption,
    force: Annotated[bool, typer.Option("--force", help="Extract even if up to date.")] = False,
) -> None:
    """Run the reward model over every response and store layer activations (resumable)."""
    from safer_engine.activations.stage import extract_stage
    from safer_engine.launch import is_main_process

    ws = Workspace.open(workspace)
    with rich_progress(err, "Extracting") as progress:
        result = extract_stage(ws, config, progress, force=force)
    if not is_main_process():
        return  # under `accelerate launch` the main process assembles the store and reports
    if result is None:
        out.print(f"[green]Store up to date[/] at {ws.store_path} (--force re-extracts)")
        return
    if result.damage:
        out.print(f"[yellow]Replaced a damaged store:[/] {' '.join(result.damage)}")
    reused = f", {result.shards_reused} shard(s) reused" if result.shards_reused else ""
    if result.processes > 1:
        reused += f", {result.processes} processes"
    out.print(
        f"[green]Extracted[/] layer {result.layer}: {result.docs:,} texts, "
        f"{result.tokens:,} tokens, {result.rows:,} activation rows "
        f"({result.selected:,} selected) in {result.seconds:.1f} s{reused} → {result.path}"
    )


def _store_path(workspace: Path) -> tuple[Path, str | None]:
    ws = Workspace.open(workspace)
    data = ws.stage(DATA)
    return ws.store_path, (data.fingerprint if data else None)


@store_app.command("info")
def store_info_command(workspace: WorkspaceOption) -> None:
    """Layout, sizes and recorded config of the workspace's store."""
    from safer_engine.cli.render import show_store_info
    from safer_engine.store.info import store_info

    path, _ = _store_path(workspace)
    show_store_info(out, store_info(path))


@store_app.command("check")
def store_check_command(workspace: WorkspaceOption) -> None:
    """Verify the store: shapes, offsets, finite values, data fingerprint."""
    from safer_engine.store.check import check_store
    from safer_engine.store.reader import rebuild_store_hint

    path, fingerprint = _store_path(workspace)
    problems = check_store(path, fingerprint)
    if not problems:
        out.print(f"[green]Store OK[/]: {path}")
        return
    for problem in problems:
        out.print(f"[red]✗[/] {problem}")
    raise SaferError(
        f"The store at {path} failed {len(problems)} check(s).", rebuild_store_hint(path)
    )
