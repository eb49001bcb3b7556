"""`safer score-pairs`: the safety features and every pair's score, written to the workspace."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from safer_engine import artifacts as names
from safer_engine.cli.app import app, err, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.config import SelectionConfig
from safer_engine.scores.selection import Selection, unvetted_note
from safer_engine.scores.summary import score_distribution
from safer_engine.workspace import Workspace

SaeOption = Annotated[str | None, typer.Option(help="SAE id (default: the last one).")]


@app.command("score-pairs")
@config_options(SelectionConfig)
def score_pairs_command(
    config: SelectionConfig,
    workspace: WorkspaceOption,
    sae: SaeOption = None,
    show: Annotated[int, typer.Option(help="Top and bottom pairs to print.")] = 5,
) -> None:
    """Score every pair from the safety features (P and N) into sae/<id>/scores/."""
    from safer_engine.sae.stage import resolve_sae
    from safer_engine.scores.judged import judge_scores
    from safer_engine.scores.stage import score_pairs, scores_dir

    ws = Workspace.open(workspace)
    sae_id = resolve_sae(ws, sae)
    with rich_progress(err, "Pair scores") as progress:
        result = score_pairs(ws, sae_id, config, judge_scores(ws, sae_id), progress)
    show_selection(out, result.selection)
    show_distribution(out, result.table)
    prompts = pl.read_parquet(ws.pairs_path, columns=["pair_id", "prompt"])
    show_extremes(out, result.table.join(prompts, on="pair_id", how="left"), show)
    folder = scores_dir(ws, sae_id)
    verb = "unchanged in" if result.reused else "written to"
    out.print(
        f"[green]Scores of {result.table.height:,} pairs {verb}[/] "
        f"{folder / names.PAIR_SCORES_FILE} ({result.seconds:.1f} s), the selection beside "
        f"them in {names.SELECTION_FILE}"
    )


def show_selection(console: Console, selection: Selection) -> None:
    """P and N with what put each feature there; a tag against its salience is flagged."""
    console.print(
        f"[bold]Safety features[/] from {selection.source}: {len(selection.safe)} safe (P), "
        f"{len(selection.unsafe)} unsafe (N)"
    )
    if selection.by_salience_alone:
        console.print(f"[yellow]{unvetted_note(selection.source)}[/]")
    by_effect = selection.config.get("select") == "effect"
    table = Table(title_justify="left")
    columns = ("feature", "side", "salience", *(("effect",) if by_effect else ()))
    for name in (*columns, "tag", "judge", "note"):
        table.add_column(name, justify="left" if name in ("side", "tag", "note") else "right")
    for f in selection.features:
        flag = (
            f"tagged {f.tag} but fires more on {'chosen' if f.salience > 0 else 'rejected'}"
            if f.disagrees
            else ""
        )
        judge = str(f.judge_score) if f.judge_score is not None else ""
        effect = (f"{f.effect:+.4f}",) if by_effect and f.effect is not None else ()
        row = (str(f.feature), f.side, f"{f.salience:+.3f}", *effect)
        table.add_row(*row, f.tag or "", judge, flag)
    console.print(table)


def show_distribution(console: Console, scores: pl.DataFrame) -> None:
    summary = score_distribution(scores)
    table = Table(title="Pair scores by slice", title_justify="left")
    for name in ("slice", "split", "pairs", "mean", "p10", "median", "p90", "above 0"):
        table.add_column(name, justify="left" if name in ("slice", "split") else "right")
    for row in summary.iter_rows(named=True):
        cells = [row["slice"], row["split"], f"{row['pairs']:,}"]
        cells += [f"{row[k]:+.3f}" for k in ("mean", "p10", "median", "p90")]
        table.add_row(*cells, f"{row['above']:.0%}")
    console.print(table)


def show_extremes(console: Console, scores: pl.DataFrame, n: int) -> None:
    """The highest and lowest scoring pairs: poisoning flips the first, denoising drops the
    last."""
    if n < 1:
        return
    ranked = scores.sort("rank")
    for title, part in (("Highest scores", ranked.head(n)), ("Lowest scores", ranked.tail(n))):
        table = Table(title=title, title_justify="left")
        for name in ("rank", "pair", "slice", "split", "score", "most from", "prompt"):
            table.add_column(name, justify="right" if name in ("rank", "score") else "left")
        for row in part.iter_rows(named=True):
            top = f"{row['feature_1']} ({row['share_1']:+.0%})" if row["feature_1"] >= 0 else ""
            prompt = " ".join(str(row.get("prompt") or "").split())
            table.add_row(
                str(row["rank"]),
                row["pair_id"],
                row["slice"],
                row["split"],
                f"{row['score']:+.3f}",
                top,
                prompt[:60] + ("…" if len(prompt) > 60 else ""),
            )
        console.print(table)
