"""`safer export …`: an analysis in the formats other tools read (`safer labels export` writes
the tags as CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import err, group, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import NeuronpediaConfig
from safer_engine.workspace import Workspace

export_app = group("export", "Write the analysis in formats other tools read (Neuronpedia).")


@export_app.command("neuronpedia")
@config_options(NeuronpediaConfig)
def export_neuronpedia_command(
    config: NeuronpediaConfig,
    workspace: WorkspaceOption,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder of exports (Neuronpedia's layout: config/, <model>/<source>/)."
        ),
    ],
    sae: Annotated[str | None, typer.Option(help="SAE id (default: the last one).")] = None,
) -> None:
    """The SAE's features, their examples, tags and judge scores as Neuronpedia exports them."""
    from safer_engine.share.features import analysed_sae
    from safer_engine.share.neuronpedia import BATCH, export_neuronpedia

    ws = Workspace.open(workspace)
    sae_id = analysed_sae(ws, sae)
    with rich_progress(err, "Neuronpedia export") as progress:
        done = export_neuronpedia(ws, sae_id, out_dir, config, progress)
    out.print(
        f"[green]Exported[/] {done.features:,} feature(s) of SAE {sae_id} with "
        f"{done.activations:,} example(s) and {done.explanations:,} explanation(s) to "
        f"{done.folder} ({done.bytes / 1e6:.1f} MB, {done.seconds:.1f} s)"
    )
    out.print(
        f"Model [bold]{done.names.model_id}[/], source [bold]{done.names.source_id}[/]; "
        f"batches of {BATCH:,} features, explanation types in {Path(out_dir) / 'config'}"
    )
