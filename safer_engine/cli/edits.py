"""`safer edit …`: plan edits of the training data, list them and export the edited data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from safer_engine.cli.app import err, group, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import EditConfig, SelectionConfig
from safer_engine.edits.plan import EditPlan
from safer_engine.scores.selection import UNVETTED_SOURCES, unvetted_note
from safer_engine.workspace import Workspace

edit_app = group(
    "edit", "Plan edits of the training data (poison, denoise, baselines) and export them."
)
PlanArgument = Annotated[str, typer.Argument(help="A plan id (with --workspace) or its path.")]


@edit_app.command("plan")
@config_options(SelectionConfig, name="selection")
@config_options(EditConfig)
def edit_plan(
    config: EditConfig,
    selection: SelectionConfig,
    workspace: WorkspaceOption,
    sae: Annotated[str | None, typer.Option(help="SAE id (default: the last one).")] = None,
    show: Annotated[int, typer.Option(help="Edits to list (all with --show -1).")] = 10,
) -> None:
    """Choose the train pairs to flip or remove; print the plan, then save it."""
    from safer_engine.edits.stage import plan_edits, save_plan

    ws = Workspace.open(workspace)
    with rich_progress(err, "Edit plan") as progress:
        plan = plan_edits(ws, config, selection, sae, progress)
    show_plan(out, plan, show)
    path = save_plan(ws, plan)
    out.print(f"[green]Plan {plan.plan_id} saved[/] to {path}")
    out.print("Export it with:")
    # on a line of its own, unwrapped, so it copies as one command
    out.print(
        f"  safer edit export {plan.plan_id} --workspace {ws.root} --out FILE",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


@edit_app.command("list")
def edit_list(workspace: WorkspaceOption) -> None:
    """The workspace's saved edit plans."""
    from safer_engine.edits.stage import list_plans

    plans = list_plans(Workspace.open(workspace))
    if not plans:
        out.print("No edit plans yet: make one with `safer edit plan --workspace DIR`.")
        return
    table = Table()
    # ids are what the next command needs: whole, on one line, whatever the width
    widest = max(len(plan.plan_id) for plan in plans)
    table.add_column("plan", no_wrap=True, min_width=widest)
    for name in ("mode", "edits", "by slice", "source"):
        table.add_column(name)
    for plan in plans:
        by_slice = ", ".join(f"{k} {v:,}" for k, v in sorted(plan.counts.items()))
        source = (plan.selection or {}).get("source", "")
        table.add_row(plan.plan_id, plan.config["mode"], f"{len(plan.edits):,}", by_slice, source)
    out.print(table)


@edit_app.command("export")
def edit_export(
    plan: PlanArgument,
    out_path: Annotated[Path, typer.Option("--out", help="File (or folder for hf) to write.")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="parquet, jsonl or hf; by default what --out's name asks for (.parquet, "
            ".jsonl, anything else a datasets folder).",
        ),
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option(help="Workspace folder (when PLAN is an id).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")] = False,
) -> None:
    """The edited training data in its source's schema, with a manifest beside it."""
    from safer_engine.edits.export import chosen_format, export_plan
    from safer_engine.edits.stage import find_plan
    from safer_engine.workspace.stages import DATA

    ws, found = find_plan(plan, workspace)
    pairs, _ = ws.pairs()
    data = ws.stage(DATA)
    schema = str(data.info.get("schema", "")) if data else ""
    preference = str(data.config.get("preference", "safer")) if data else "safer"
    chosen = chosen_format(out_path, fmt)
    result = export_plan(pairs, found, schema, preference, out_path, chosen, force)
    out.print(
        f"[green]Exported[/] {result.rows:,} train pairs ({len(found.edits):,} edited) as "
        f"{result.schema} {chosen} to {result.path}; manifest {result.manifest}"
    )


def show_plan(console: Console, plan: EditPlan, show: int) -> None:
    """Counts by slice first (what will change), then the edits themselves."""
    action = "flip" if plan.action == "flip" else "remove"
    console.print(
        f"[bold]Plan {plan.plan_id}[/]: {action} {len(plan.edits):,} of {plan.train_pairs:,} "
        "train pairs"
    )
    selection = plan.selection or {}
    if selection:
        console.print(
            f"Scored by {len(selection['features'])} safety features from "
            f"{selection['source']} (SAE {selection.get('sae_id', '?')})"
        )
        if selection["source"] in UNVETTED_SOURCES:
            console.print(f"[yellow]{unvetted_note(selection['source'])}[/]")
    by_slice = ", ".join(f"{name} {count:,}" for name, count in sorted(plan.counts.items()))
    console.print(f"[bold]Edited pairs by slice[/]: {by_slice}")
    listed = plan.edits if show < 0 else plan.edits[:show]
    if not listed:
        return
    table = Table(title=f"Edits ({len(listed):,} of {len(plan.edits):,})", title_justify="left")
    for name in ("pair", "action", "slice", "score", "reason"):
        table.add_column(name, justify="right" if name == "score" else "left")
    for edit in listed:
        score = f"{edit.score:+.3f}" if edit.score is not None else ""
        table.add_row(edit.pair_id, edit.action, edit.slice, score, edit.reason)
    console.print(table)
