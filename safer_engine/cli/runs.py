"""`safer retrain`, `safer experiment` and `safer runs`: retraining on edited data and
comparing the runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from safer_engine.demo import DemoComparison

from safer_engine.cli.app import app, err, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.cli.recipe_options import recipe_options
from safer_engine.config import ExperimentConfig, SelectionConfig
from safer_engine.errors import EditError
from safer_engine.scores.selection import unvetted_note
from safer_engine.train.evaluate import EvalReport
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import BASE_RUN

RUN_SLICES = ("safety", "general")
"""The listing's accuracy columns: with a whole plan-run id and its recipe, a third (all)
would not fit 80 columns; `eval.json` of each run has it."""


@app.command()
@recipe_options()
def retrain(
    recipes: tuple[str, ...],
    overrides: dict[str, Any],
    plan: Annotated[
        str | None, typer.Argument(help="A plan id (with --workspace) or its path.")
    ] = None,
    workspace: Annotated[Path | None, typer.Option(help="Workspace folder.")] = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="Train the clean run (no plan) instead.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the training.")] = 0,
) -> None:
    """Retrain the reward model on the edited train split (fast recipe, or --recipe full:
    the real retrain, resumable), and test it on the clean test pairs."""
    from safer_engine.edits.stage import find_plan
    from safer_engine.retrain.recipes import make_recipe
    from safer_engine.retrain.run import retrain as run_retrain

    if clean == (plan is not None):
        raise EditError("Give a PLAN or --clean (one of the two).", "See `safer retrain --help`.")
    if plan is None:
        if workspace is None:
            raise EditError("--clean needs --workspace DIR.")
        ws, found = Workspace.open(workspace), None
    else:
        ws, found = find_plan(plan, workspace)
    recipe = make_recipe(ws, recipes[0], overrides)
    with rich_progress(err, "Retrain") as progress:
        result = run_retrain(ws, found, recipe, seed, progress=progress)
    if result is None:  # another process of a launch: the main one reports
        return
    if result.run.is_base:
        out.print(
            f"[green]The full recipe's clean run of seed {seed} is the analysed reward model[/] "
            f"(run {BASE_RUN}, {ws.rm_dir}): reused, not trained again"
        )
    else:
        verb = "reused" if result.reused else "trained"
        resumed = result.run.info.get("resumed_from") if not result.reused else None
        verb += f", resumed from {resumed}" if resumed else ""
        out.print(f"[green]Run {result.run.run_id} ({recipe.name} recipe) {verb}[/]")
    show_report(out, result.report)


@app.command()
@config_options(SelectionConfig, name="selection")
@recipe_options(several=True)
@config_options(ExperimentConfig)
def experiment(
    config: ExperimentConfig,
    recipes: tuple[str, ...],
    overrides: dict[str, Any],
    selection: SelectionConfig,
    workspace: WorkspaceOption,
) -> None:
    """SAFER poisoning and denoising against random edits at several ratios and seeds, with
    one recipe or both (their verdicts side by side); finished runs are reused. Writes
    experiments/<id>/report.md and report.png."""
    from safer_engine.experiment.grid import run_experiment
    from safer_engine.retrain.recipes import make_recipes

    ws = Workspace.open(workspace)
    trained = make_recipes(ws, recipes, overrides)
    with rich_progress(err, "Experiment") as progress:
        result = run_experiment(ws, config, trained, selection, progress)
    if result.report is None:  # another process of a launch: the main one reports
        return
    show_summary(out, pl.read_parquet(result.report.with_name("summary.parquet")))
    verdicts = result.report.with_name("verdicts.parquet")
    if len(recipes) > 1 and verdicts.is_file():
        show_verdicts(out, pl.read_parquet(verdicts))
    out.print(
        f"[green]Report[/] {result.report} and {result.report.with_name('report.png')} "
        f"({result.runs} runs, {result.trained} trained now, {result.seconds:.0f} s)"
    )


@app.command()
def runs(workspace: WorkspaceOption) -> None:
    """The workspace's runs: the analysed reward model and every retrain, with accuracy."""
    from safer_engine.workspace.runs import list_runs

    found = list_runs(Workspace.open(workspace))
    if not found:
        out.print("No runs yet: train the reward model with `safer train-rm` or `safer demo`.")
        return
    # no rules between columns: a whole edited run id and its recipe fit in 80 columns
    table = Table(
        caption="An edited run's id starts with its plan's id, then its recipe.",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),  # one space and the divider between columns
    )
    # the id is what `safer retrain` and the files need: whole, on one line
    table.add_column("run", no_wrap=True, min_width=max(len(run.run_id) for run in found))
    table.add_column("recipe", min_width=6)
    table.add_column("status", min_width=7)
    for name in RUN_SLICES:
        table.add_column(name, justify="right", min_width=len(name), no_wrap=True)
    for run in found:
        accuracy = run.info.get("accuracy", {})
        cells = [f"{accuracy[k]:.3f}" if k in accuracy else "" for k in RUN_SLICES]
        status = run.status if not run.error else f"{run.status}: {run.error}"
        table.add_row(run.run_id, run.recipe, status, *cells)
    out.print(table)


def show_summary(console: Console, summary: pl.DataFrame) -> None:
    """The experiment's table per slice: accuracy and the change against clean."""
    from safer_engine.experiment.report import METHOD_LABELS, recipe_order, slice_order

    for recipe, name in [
        (r, n)
        for r in recipe_order(summary)
        for n in slice_order(summary.filter(pl.col("recipe") == r))
    ]:
        part = summary.filter((pl.col("slice") == name) & (pl.col("recipe") == recipe))
        title = f"{recipe} recipe · {name} ({part['pairs'][0]:,} test pairs)"
        caption = "learned: the share of flipped train pairs the retrained model orders as flipped"
        table = Table(title=title, title_justify="left", caption=caption)
        columns = ("method", "ratio", "accuracy", "change vs clean (95% CI)", "edited", "learned")
        for column in columns:
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in part.iter_rows(named=True):
            clean = row["method"] == "clean"
            change = (
                ""
                if clean
                else f"{row['change']:+.3f} ({row['change_low']:+.3f} to {row['change_high']:+.3f})"
            )
            table.add_row(
                METHOD_LABELS[row["method"]],
                "" if clean else f"{row['ratio']:g}%",
                f"{row['accuracy']:.3f}",
                change,
                f"{row['edited']:.0f}",
                _share(row.get("flips_learned")),
            )
        console.print(table)


def _share(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.0%}"


def show_verdicts(console: Console, verdicts: pl.DataFrame) -> None:
    """Each recipe's SAFER − random difference side by side, and whether they agree."""
    from safer_engine.experiment.report import recipe_order, slice_order
    from safer_engine.experiment.verdicts import side_by_side

    recipes = recipe_order(verdicts)
    rows = side_by_side(verdicts)
    for name in slice_order(verdicts):
        table = Table(title=f"SAFER − random accuracy · {name}", title_justify="left")
        for column in ("edit", "ratio", *recipes, "agree"):
            table.add_column(column, justify="left" if column == "edit" else "right")
        for row in rows.filter(pl.col("slice") == name).iter_rows(named=True):
            agreed = "yes" if row["agree"] else "[bold red]no[/]"
            cells = [row[recipe] for recipe in recipes]
            table.add_row(row["kind"], f"{row['ratio']:g}%", *cells, agreed)
        console.print(table)


def show_comparison(console: Console, comparison: DemoComparison, workspace: Path) -> None:
    """Clean, SAFER-poisoned and randomly flipped runs side by side, per slice (`workspace`:
    where they are, for the command it suggests)."""
    selection = comparison.selection
    console.print(
        f"[bold]Poisoning {comparison.ratio:g}% of the train pairs[/] ranked by "
        f"{len(selection.features)} safety features from {selection.source}, against "
        f"flipping as many at random ({comparison.recipe} recipe, seed 0; test on the clean "
        "test pairs):"
    )
    if selection.by_salience_alone:
        console.print(f"[yellow]{unvetted_note(selection.source)}[/]")
    slices = [s.name for s in next(iter(comparison.runs.values())).report.slices]
    slices.sort(key=lambda name: (name != "safety", name))
    table = Table()
    table.add_column("run")
    for name in slices:
        table.add_column(f"{name} accuracy (95% CI)", justify="right")
    table.add_column("pairs flipped", justify="right")
    for label, result in comparison.runs.items():
        parts = {s.name: s for s in result.report.slices}
        cells = [
            f"{parts[n].accuracy:.3f} ({parts[n].ci_low:.3f}–{parts[n].ci_high:.3f})"
            for n in slices
        ]
        flipped = sum(result.run.info.get("edited", {}).values())
        table.add_row(label, *cells, f"{flipped:,}")
    console.print(table)
    if comparison.recipe == "fast":
        plans = [r.run.plan for r in comparison.runs.values() if r.run.plan]
        console.print(
            "The fast recipe is a proxy of the real retrain. Retrain these plans with the "
            f"whole model, e.g. `safer retrain {plans[0]} --recipe full --workspace "
            f"{workspace}` (plans: {' '.join(plans)}); how far the two agree on this data: "
            "docs/retraining.md."
        )


def show_report(console: Console, report: EvalReport) -> None:
    table = Table(title="Accuracy on the clean test pairs", title_justify="left")
    for name in ("slice", "pairs", "accuracy", "95% interval"):
        table.add_column(name, justify="left" if name == "slice" else "right")
    for part in [*report.slices, report.overall]:
        table.add_row(
            part.name,
            f"{part.pairs:,}",
            f"{part.accuracy:.3f}",
            f"{part.ci_low:.3f}–{part.ci_high:.3f}",
        )
    console.print(table)
