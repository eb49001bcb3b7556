"""`safer train-sae`, `safer encode` and `safer salience`: SAE features of a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safer_engine import artifacts as names
from safer_engine.cli.app import app, err, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import SAEConfig
from safer_engine.errors import ConfigError, SaferError
from safer_engine.sae.encode import PART_ROWS
from safer_engine.workspace import Workspace

SaeOption = Annotated[
    str | None,
    typer.Option(help="SAE id in this workspace, or a sae-lens folder (default: last)."),
]
RANKINGS = ("abs_salience", "mean_act_diff", "firing_rate_diff")


@app.command("train-sae")
@config_options(
    SAEConfig,
    help={
        "n_latents": "SAE features (default: 8 × activation width).",
        "k": "Active features per token (default: scaled to the width).",
        "pretrain_text": "Text file for a first stage on generic text, as in the paper.",
    },
)
def train_sae_command(
    config: SAEConfig,
    workspace: WorkspaceOption,
    sae_id: Annotated[
        str | None, typer.Option("--id", help="Name of the SAE folder under sae/.")
    ] = None,
) -> None:
    """Train a TopK SAE with sae-lens on the store's activations (saved in sae-lens format)."""
    from safer_engine.activations.stage import generic_stage
    from safer_engine.sae.stage import train_sae_stage

    ws = Workspace.open(workspace)
    with rich_progress(err, "SAE") as progress:
        generic = None
        if config.pretrain_text:
            text = Path(config.pretrain_text)
            generic = generic_stage(ws, text, config.pretrain_tokens, progress)
        name, result = train_sae_stage(ws, config, sae_id, progress, generic=generic)
    if result is None:
        out.print(f"[green]SAE up to date[/]: {ws.sae_dir(name)}")
        return
    m = result.metrics
    out.print(
        f"[green]SAE trained[/] ({result.n_latents:,} latents, k={result.k}, {result.steps} "
        f"steps, {result.seconds:.0f} s): variance explained {m.variance_explained:.3f}, "
        f"mean L0 {m.mean_l0:.1f}, dead features {m.dead_fraction:.1%} → {ws.sae_dir(name)}"
    )


@app.command("encode")
def encode_command(
    workspace: WorkspaceOption,
    sae: SaeOption = None,
    split: Annotated[str, typer.Option(help="Pairs whose sides weight salience.")] = "train",
    force: Annotated[bool, typer.Option("--force", help="Encode even if up to date.")] = False,
    part_rows: Annotated[
        int,
        typer.Option(
            min=1,
            help="Rows per resumable part; the processes of `accelerate launch` split the parts.",
        ),
    ] = PART_ROWS,
) -> None:
    """Top-k SAE codes for every stored token, then the per-feature index and salience."""
    from safer_engine.launch import current_share, is_main_process
    from safer_engine.sae.stage import encode_stage, resolve_sae
    from safer_engine.salience.stage import salience_stage

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae, current_share())
    with rich_progress(err, "Encoding") as progress:
        result = encode_stage(ws, sae_id, progress, force=force, part_rows=part_rows)
        if not is_main_process():
            return  # under `accelerate launch` the main process indexes the codes and reports
        ranked = salience_stage(ws, sae_id, split, progress, force=force or result is not None)
    if result is None:
        out.print(f"[green]Codes up to date[/] for SAE {sae_id}")
    else:
        shared = f", {result.parts_reused} part(s) reused" if result.parts_reused else ""
        if result.processes > 1:
            shared += f", {result.processes} processes"
        out.print(
            f"[green]Encoded[/] {result.rows:,} rows (k={result.k}, {result.n_latents:,} "
            f"latents) in {result.seconds:.1f} s{shared} → {result.path}"
        )
    if ranked is not None:
        out.print(
            f"[green]Salience[/] of {ranked.features:,} features (split {split}) in "
            f"{ranked.seconds:.1f} s → {ws.sae_dir(sae_id) / names.SALIENCE_FILE}"
        )


@app.command("salience")
def salience_command(
    workspace: WorkspaceOption,
    sae: Annotated[str | None, typer.Option(help="SAE id (default: last trained).")] = None,
    top: Annotated[int, typer.Option(help="Features to show.")] = 10,
    by: Annotated[str, typer.Option(help=", ".join(RANKINGS) + ".")] = "abs_salience",
    examples: Annotated[int, typer.Option(help="Top contexts shown per feature.")] = 2,
    csv: Annotated[Path | None, typer.Option(help="Also write the whole table here.")] = None,
) -> None:
    """Rank SAE features by how differently they fire on chosen vs rejected responses."""
    import polars as pl

    from safer_engine.sae.stage import resolve_sae

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae)
    if by not in RANKINGS:
        raise ConfigError(f"--by must be {', '.join(RANKINGS)}, not {by!r}.")
    if top < 1 or examples < 0:
        raise ConfigError(
            f"--top must be at least 1 and --examples at least 0, not {top} and {examples}.",
            "The whole table goes to a file with --csv FILE.",
        )
    show_top_features(ws, sae_id, top, examples, by)
    if csv is not None:
        table = pl.read_parquet(ws.sae_dir(sae_id) / names.SALIENCE_FILE)
        table.write_csv(csv)
        out.print(f"Wrote {table.height:,} features to {csv}")


def show_top_features(
    ws: Workspace, sae_id: str, top: int, examples: int, by: str = "abs_salience"
) -> None:
    import polars as pl

    from safer_engine.cli.render import show_salience
    from safer_engine.codes.examples import FeatureExamples
    from safer_engine.service.attribution import Attributions

    path = ws.sae_dir(sae_id) / names.SALIENCE_FILE
    if not path.exists():
        raise SaferError(
            f"SAE {sae_id} has no salience table yet.", "Run `safer encode --workspace DIR` first."
        )
    table = Attributions(ws.sae_dir(sae_id)).with_effects(pl.read_parquet(path))
    ranked = table.sort(pl.col(by).abs(), descending=True).head(top)
    reader = FeatureExamples(ws.store_path, ws.sae_dir(sae_id))
    try:
        contexts = {
            int(f): reader.examples(int(f), per_quantile=examples, quantiles=(1.0,))
            for f in ranked["feature"]
        }
    finally:
        reader.close()
    show_salience(out, ranked, contexts)
