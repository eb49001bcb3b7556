"""`safer labels …`: feature tags as CSV, in and out, and clearing tags in bulk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import group, out
from safer_engine.cli.options import WorkspaceOption
from safer_engine.errors import WorkspaceError
from safer_engine.labels import TAGS, LabelStore
from safer_engine.workspace import Workspace

labels_app = group("labels", "Export, import and clear feature tags.")
SaeOption = Annotated[str | None, typer.Option(help="SAE id (default: last trained).")]


def _labels(workspace: Path, sae: str | None) -> tuple[LabelStore, str, Workspace]:
    from safer_engine.sae.stage import resolve_sae

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae)
    return LabelStore.open(ws.labels_path), sae_id, ws


@labels_app.command("export")
def labels_export(
    workspace: WorkspaceOption,
    csv: Annotated[Path, typer.Argument(help="CSV file to write.")],
    sae: SaeOption = None,
) -> None:
    """Write each feature's current tag and note (feature, tag, note, author, at)."""
    store, sae_id, _ = _labels(workspace, sae)
    with store:
        count = store.export_csv(sae_id, csv)
    out.print(f"[green]Exported[/] {count:,} labelled feature(s) of SAE {sae_id} to {csv}")


@labels_app.command("import")
def labels_import(
    workspace: WorkspaceOption,
    csv: Annotated[Path, typer.Argument(help="CSV with feature and tag columns (note optional).")],
    sae: SaeOption = None,
    allow_unknown: Annotated[
        bool,
        typer.Option(
            "--allow-unknown", help="Import tags of feature ids the SAE lacks instead of refusing."
        ),
    ] = False,
) -> None:
    """Add tags from a CSV as new label rows: all or nothing, every bad row named by line.

    An empty tag clears the feature's tag; an empty note leaves its note as it is.
    """
    from safer_engine.codes.reader import feature_count

    store, sae_id, ws = _labels(workspace, sae)
    n_features = None
    if not allow_unknown:
        n_features = feature_count(ws.sae_dir(sae_id))
        if n_features is None:
            store.close()
            raise WorkspaceError(
                f"Cannot tell how many features SAE {sae_id} has: it has no salience table, "
                "codes or config to read.",
                f"Run `safer encode --workspace {ws.root} --sae {sae_id}` first, or pass "
                "--allow-unknown to import the tags unchecked.",
            )
    with store:
        done = store.import_csv(sae_id, csv, n_features)
    out.print(
        f"[green]Imported[/] {done.rows:,} label row(s) into SAE {sae_id}: {done.tags:,} "
        f"tag(s) set, {done.clears:,} cleared, {done.notes:,} note(s)"
    )


@labels_app.command("clear")
def labels_clear(
    workspace: WorkspaceOption,
    sae: SaeOption = None,
    tag: Annotated[
        str | None, typer.Option(help=f"Clear every feature tagged TAG ({', '.join(TAGS)}).")
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="Clear these features' tags: ids separated by commas.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Clear every tag of the SAE.")] = False,
) -> None:
    """Clear tags in bulk (notes stay): one clear row per tagged feature, in one transaction."""
    if (tag is not None) + (features is not None) + all_ != 1:
        raise WorkspaceError(
            "Say which tags to clear.", "Give exactly one of --tag TAG, --features 1,2,3 or --all."
        )
    if tag is not None and tag not in TAGS:
        raise typer.BadParameter(
            f"{tag!r} is not a tag; use one of {', '.join(TAGS)}.", param_hint="'--tag'"
        )
    ids = _feature_ids(features) if features is not None else None
    store, sae_id, _ = _labels(workspace, sae)
    with store:
        count = store.clear_tags(sae_id, ids, tag)
    which = f" tagged {tag}" if tag else ""
    untagged = f" ({len(ids) - count:,} of those listed had no tag)" if ids else ""
    out.print(
        f"[green]Cleared[/] the tags of {count:,} feature(s){which} of SAE {sae_id}{untagged}"
    )


def _feature_ids(text: str) -> list[int]:
    ids = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if not item.isdigit():
            raise typer.BadParameter(
                f"{item!r} is not a feature id (ids are whole numbers, 0 or more).",
                param_hint="'--features'",
            )
        ids.append(int(item))
    if not ids:
        raise typer.BadParameter("no feature ids given.", param_hint="'--features'")
    return sorted(set(ids))
