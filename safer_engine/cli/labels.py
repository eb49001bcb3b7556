"""`safer labels …`: feature tags as CSV, in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import group, out
from safer_engine.cli.options import WorkspaceOption
from safer_engine.labels import LabelStore
from safer_engine.workspace import Workspace

labels_app = group("labels", "Export and import feature tags as CSV.")
SaeOption = Annotated[str | None, typer.Option(help="SAE id (default: last trained).")]


def _labels(workspace: Path, sae: str | None) -> tuple[LabelStore, str]:
    from safer_engine.sae.stage import resolve_sae

    ws = Workspace.open(workspace)
    return LabelStore.open(ws.labels_path), resolve_sae(ws, sae)


@labels_app.command("export")
def labels_export(
    workspace: WorkspaceOption,
    csv: Annotated[Path, typer.Argument(help="CSV file to write.")],
    sae: SaeOption = None,
) -> None:
    """Write each feature's current tag and note (feature, tag, note, author, at)."""
    store, sae_id = _labels(workspace, sae)
    with store:
        count = store.export_csv(sae_id, csv)
    out.print(f"[green]Exported[/] {count:,} labelled feature(s) of SAE {sae_id} to {csv}")


@labels_app.command("import")
def labels_import(
    workspace: WorkspaceOption,
    csv: Annotated[Path, typer.Argument(help="CSV with feature and tag columns (note optional).")],
    sae: SaeOption = None,
) -> None:
    """Add tags from a CSV as new label rows (all or nothing; bad rows are named by line)."""
    store, sae_id = _labels(workspace, sae)
    with store:
        count = store.import_csv(sae_id, csv)
    out.print(f"[green]Imported[/] {count:,} label row(s) into SAE {sae_id}")
