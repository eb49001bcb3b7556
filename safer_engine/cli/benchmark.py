"""`safer benchmark noise`: how well SAFER, the reward model's margin, cleanlab and chance find
labels that were flipped on purpose."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from safer_engine.cli.app import err, group, out
from safer_engine.cli.options import WorkspaceOption, config_options
from safer_engine.cli.progress import rich_progress
from safer_engine.cli.recipe_options import recipe_options
from safer_engine.config import NoiseBenchmarkConfig
from safer_engine.workspace import Workspace

benchmark_app = group("benchmark", "Measure the methods against a known truth.")


@benchmark_app.command("noise")
@recipe_options()
@config_options(NoiseBenchmarkConfig)
def noise(
    config: NoiseBenchmarkConfig,
    recipes: tuple[str, ...],
    overrides: dict[str, Any],
    workspace: WorkspaceOption,
) -> None:
    """Flip a known share of the safety train pairs, run the loop on the noisy data (a
    workspace per level and seed under benchmarks/), and measure how many flipped pairs each
    method finds and what removing them does. Finished stages and runs are reused."""
    from safer_engine.benchmark.run import run_noise_benchmark
    from safer_engine.retrain.recipes import make_recipe

    source = Workspace.open(workspace)
    recipe = make_recipe(source, recipes[0], overrides)
    with rich_progress(err, "Benchmark") as progress:
        result = run_noise_benchmark(source, config, recipe, progress)
    show_summary(out, pl.read_parquet(result.report.with_name("summary.parquet")))
    out.print(
        f"[green]Report[/] {result.report} and {result.report.with_name('report.png')} "
        f"({len(result.outcomes)} noisy workspaces, {result.ran} stages run now, "
        f"{result.trained} runs trained now, {result.seconds / 60:.1f} min)"
    )


def show_summary(console: Console, summary: pl.DataFrame) -> None:
    """Per noise level: each method's AUROC and average precision, and the safety accuracy
    after removing its most suspect pairs."""
    from safer_engine.benchmark.report import METHOD_LABELS

    for noise in sorted(set(summary["noise"].to_list())):
        part = summary.filter(pl.col("noise") == noise)
        table = Table(title=f"{noise:g}% flipped", title_justify="left")
        for column in ("method", "AUROC", "avg precision", "precision at k", "safety acc"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in part.iter_rows(named=True):
            cells = [_number(row[m]) for m in ("auroc", "average_precision", "precision")]
            table.add_row(
                METHOD_LABELS.get(row["method"], row["method"]),
                *cells,
                _number(row["safety_accuracy"]),
            )
        console.print(table)


def _number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.3f}"
