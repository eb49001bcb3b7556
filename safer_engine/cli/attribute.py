"""`safer attribute`: why the reward model prefers a response, per pair and per feature."""

from __future__ import annotations

from typing import Annotated

import typer

from safer_engine.cli.app import app, err, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import AblationCheckConfig, AttributionConfig
from safer_engine.workspace import Workspace


@app.command("attribute")
@config_options(AttributionConfig)
def attribute_command(
    config: AttributionConfig,
    workspace: WorkspaceOption,
    sae: Annotated[
        str | None, typer.Option(help="SAE id in this workspace (default: last trained).")
    ] = None,
    check: Annotated[
        int,
        typer.Option(
            min=0,
            help="Then ablate the top features of this many sampled pairs and compare (0: no "
            "check).",
        ),
    ] = 0,
    check_features: Annotated[
        int, typer.Option(min=2, help="Top features ablated per checked pair.")
    ] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the checked pairs' sample.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Attribute even if up to date.")] = False,
) -> None:
    """Attribute every pair's reward margin to the SAE's features (activation × gradient
    through the SAE), with the SAE's error as a term of its own; check it by ablation."""
    from safer_engine.attribution.stage import attribute, check_attributions
    from safer_engine.sae.stage import resolve_sae

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae)
    checking = AblationCheckConfig(check, check_features, seed) if check else None
    with rich_progress(err, "Attribution") as progress:
        result = attribute(ws, sae_id, config, progress, force=force)
        if not result.is_main:
            return  # under `accelerate launch` the main process writes and reports
        if result.reused:
            out.print(f"[green]Attributions up to date[/] for SAE {sae_id}: {result.folder}")
        else:
            _report_attribution(result)
        if checking is not None:
            _report_check(check_attributions(ws, sae_id, checking, progress))


def _report_attribution(result: object) -> None:
    from safer_engine.attribution.stage import AttributionResult

    assert isinstance(result, AttributionResult) and result.faithfulness is not None
    f = result.faithfulness
    reused = f", {result.shards_reused} shard(s) reused" if result.shards_reused else ""
    out.print(
        f"[green]Attributed[/] {result.texts:,} texts and {f.pairs:,} pairs in "
        f"{result.seconds:.1f} s{reused} → {result.folder}"
    )
    out.print(
        f"Features + error explain {f.explained:.0%} of the margins (correlation "
        f"{f.correlation:+.2f}; with the rest {f.explained_with_rest:.0%}); the error is "
        f"{f.error_share:.0%} of a pair's attribution (median)."
    )
    out.print(
        "[dim]These terms are first order from zero: they sum to the margin only for a "
        "reward linear in the layer. Each feature's term estimates what removing it would "
        "change; `--check N` measures how well.[/]"
    )


def _report_check(check: object) -> None:
    from safer_engine.attribution.ablation import AblationCheck
    from safer_engine.attribution.files import AGREEMENT

    assert isinstance(check, AblationCheck)
    out.print(
        f"[green]Checked[/] {check.features:,} ablations on {check.pairs} pairs in "
        f"{check.seconds:.0f} s: Spearman {check.spearman:.3f} ({check.spearman_low:.3f} to "
        f"{check.spearman_high:.3f}); top feature agrees on {check.top_agrees:.0%} of pairs "
        f"({check.top_low:.0%} to {check.top_high:.0%})."
    )
    if check.agrees:
        out.print("Attributions agree with ablations: the explorer shows them as explanations.")
    else:
        out.print(
            f"[yellow]Attributions do not agree with ablations[/] (Spearman below "
            f"{AGREEMENT}): the explorer shows effects, but not as explanations of pairs."
        )
