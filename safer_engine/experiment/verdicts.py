"""What an experiment concludes per recipe, and whether two recipes conclude the same.

A verdict compares a SAFER edit with the random edit of the same size and kind (poisoning
with flipping, denoising with removal) under one recipe: the mean of SAFER's accuracy minus
random's over seeds and clean test pairs, paired by seed and pair, with a 95% bootstrap
interval. Its sign class (lower, higher, or no clear difference when the interval holds 0) is
what a reader takes from the table; the fast recipe is trusted as a proxy where its classes
match the full recipe's.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from safer_engine.experiment.report import (
    RunOutcome,
    bootstrap_interval,
    correct_matrix,
    recipe_order,
    slice_order,
)

PAIRS = (("poison", "safer-poison", "random-flip"), ("denoise", "safer-denoise", "random-remove"))


def verdicts(outcomes: list[RunOutcome], seed: int = 0) -> pl.DataFrame:
    """One row per (recipe, kind, ratio, slice): SAFER − random accuracy with its interval
    and its class; empty when no ratio has both methods."""
    rng = np.random.default_rng(seed)
    by_cell = {(o.recipe, o.method, o.ratio, o.seed): o for o in outcomes}
    rows = []
    for recipe, method, ratio, _ in sorted({(o.recipe, o.method, o.ratio, 0) for o in outcomes}):
        for kind, safer, random in PAIRS:
            if method != safer:
                continue
            seeds = sorted(
                s
                for (r, m, q, s) in by_cell
                if (r, m, q) == (recipe, safer, ratio) and (recipe, random, ratio, s) in by_cell
            )
            if not seeds:
                continue
            edited = [by_cell[(recipe, safer, ratio, s)].correct for s in seeds]
            baseline = [by_cell[(recipe, random, ratio, s)].correct for s in seeds]
            for name in sorted(set(edited[0]["slice"].to_list())):
                difference = correct_matrix(edited, name) - correct_matrix(baseline, name)
                low, high = bootstrap_interval(difference, rng)
                rows.append(
                    {
                        "recipe": recipe,
                        "kind": kind,
                        "ratio": ratio,
                        "slice": name,
                        "seeds": len(seeds),
                        "difference": float(difference.mean()),
                        "low": low,
                        "high": high,
                        "class": classify(low, high),
                    }
                )
    return pl.DataFrame(rows)


def classify(low: float, high: float) -> str:
    """`lower` or `higher` when the interval excludes 0, else `no clear difference`."""
    if high < 0:
        return "lower"
    if low > 0:
        return "higher"
    return "no clear difference"


def side_by_side(table: pl.DataFrame) -> pl.DataFrame:
    """Per (slice, kind, ratio) found under every recipe: each recipe's difference as text
    (a column per recipe, the full one first) and whether their classes agree."""
    recipes = recipe_order(table)
    text = table.with_columns(
        pl.format(
            "{} ({} to {}): {}",
            *(
                pl.col(c).map_elements(lambda v: f"{v:+.3f}", return_dtype=pl.Utf8)
                for c in ("difference", "low", "high")
            ),
            pl.col("class"),
        ).alias("text")
    )
    index = ["slice", "kind", "ratio"]
    cells = text.pivot(on="recipe", index=index, values="text").drop_nulls(recipes)
    classes = table.pivot(on="recipe", index=index, values="class").drop_nulls(recipes)
    agree = classes.select(*index, (pl.concat_list(recipes).list.n_unique() == 1).alias("agree"))
    return cells.join(agree, on=index).select(*index, *recipes, "agree").sort(index)


def verdict_markdown(table: pl.DataFrame) -> list[str]:
    """The recipes' verdicts side by side, one table per slice."""
    recipes = recipe_order(table)
    rows = side_by_side(table)
    lines = [
        "## SAFER against random, recipe by recipe",
        "",
        "SAFER's accuracy minus the random edit's of the same size (paired by seed and test "
        "pair, 95% bootstrap interval). The recipes agree where both put the interval on the "
        "same side of 0, or both across it.",
        "",
    ]
    for name in slice_order(table):
        header = " | ".join(f"{r}: SAFER − random (95% CI)" for r in recipes)
        lines += [
            f"### {name} slice",
            "",
            f"| edit | ratio | {header} | verdicts agree |",
            "|---|---:|" + "---|" * len(recipes) + "---|",
        ]
        for row in rows.filter(pl.col("slice") == name).iter_rows(named=True):
            cells = " | ".join(row[recipe] for recipe in recipes)
            verdict = "yes" if row["agree"] else "**no**"
            lines.append(f"| {row['kind']} | {row['ratio']:g}% | {cells} | {verdict} |")
        lines.append("")
    return lines
