"""The experiment's report: accuracy per method, ratio and slice, the change against the clean
runs with a 95% interval, as markdown and as a plot.

Every run is evaluated on the same clean test pairs, so a run and the clean run of its seed
and recipe are compared pair by pair. The interval is a bootstrap over both sources of noise:
the seeds (resampled) and the test pairs (resampled, the same pairs for the run and its clean
run). Each recipe is summarised on its own; with two, the report sets their verdicts (how
much more a SAFER edit moves accuracy than the random one of its size) side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.files import atomic_file, write_text_atomic

BOOTSTRAP = 2000
METHOD_LABELS = {
    "clean": "clean",
    "safer-poison": "SAFER poisoning",
    "random-flip": "random flipping",
    "safer-denoise": "SAFER denoising",
    "random-remove": "random removal",
}


@dataclass(frozen=True)
class RunOutcome:
    """One finished run as the report needs it."""

    method: str
    ratio: float
    seed: int
    correct: pl.DataFrame
    """One row per clean test pair: pair_id, slice, correct (bool)."""
    edited: dict[str, int]
    """Edited train pairs per slice."""
    recipe: str = "fast"
    """The recipe that trained it (`fast` or `full`)."""
    flips_learned: float | None = None
    """The share of its flipped train pairs that it orders as flipped (None: no flips)."""


def summarise(outcomes: list[RunOutcome], seed: int = 0) -> pl.DataFrame:
    """One row per (recipe, method, ratio, slice): runs, accuracy, the change against the
    clean runs of the same recipe and its 95% interval, and the edited pairs (mean over
    seeds)."""
    recipes = list(dict.fromkeys(o.recipe for o in outcomes))
    parts = [
        _summarise_recipe([o for o in outcomes if o.recipe == name], seed).select(
            pl.lit(name).alias("recipe"), pl.all()
        )
        for name in recipes
    ]
    return pl.concat(parts) if parts else pl.DataFrame()


def _summarise_recipe(outcomes: list[RunOutcome], seed: int) -> pl.DataFrame:
    clean = {o.seed: o for o in outcomes if o.method == "clean"}
    if not clean:
        raise ValueError("an experiment summary needs the clean runs of every recipe")
    rng = np.random.default_rng(seed)
    rows = []
    groups: dict[tuple[str, float], list[RunOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.method, outcome.ratio), []).append(outcome)
    slices = sorted(set(next(iter(clean.values())).correct["slice"].to_list()))
    for (method, ratio), runs in sorted(groups.items(), key=lambda g: _order(*g[0])):
        runs = [r for r in runs if r.seed in clean]
        for name in slices:
            edited_acc = correct_matrix([r.correct for r in runs], name)
            clean_acc = correct_matrix([clean[r.seed].correct for r in runs], name)
            low, high = bootstrap_interval(edited_acc - clean_acc, rng)
            acc_low, acc_high = bootstrap_interval(edited_acc, rng)
            rows.append(
                {
                    "method": method,
                    "ratio": ratio,
                    "slice": name,
                    "runs": len(runs),
                    "pairs": edited_acc.shape[1],
                    "accuracy": float(edited_acc.mean()),
                    "accuracy_low": acc_low,
                    "accuracy_high": acc_high,
                    "change": float((edited_acc - clean_acc).mean()),
                    "change_low": low,
                    "change_high": high,
                    "edited": float(np.mean([sum(r.edited.values()) for r in runs])),
                    "edited_in_slice": float(np.mean([r.edited.get(name, 0) for r in runs])),
                    "flips_learned": _mean_learned(runs),
                }
            )
    return pl.DataFrame(rows)


def _mean_learned(runs: list[RunOutcome]) -> float:
    learned = [r.flips_learned for r in runs if r.flips_learned is not None]
    return float(np.mean(learned)) if learned else float("nan")


def _order(method: str, ratio: float) -> tuple[int, float]:
    return list(METHOD_LABELS).index(method), ratio


def correct_matrix(tables: list[pl.DataFrame], slice_name: str) -> np.ndarray:
    """[runs, pairs] correctness of one slice's test pairs, in one pair order for all runs."""
    parts = [t.filter(pl.col("slice") == slice_name).sort("pair_id") for t in tables]
    return np.stack([p["correct"].cast(pl.Float64).to_numpy() for p in parts])


def bootstrap_interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """95% bootstrap interval of the mean of a [seeds, pairs] matrix, resampling both."""
    seeds, pairs = values.shape
    if pairs == 0:
        return float("nan"), float("nan")
    at_seed = rng.integers(0, seeds, (BOOTSTRAP, seeds))
    at_pair = rng.integers(0, pairs, (BOOTSTRAP, pairs))
    draws = values[at_seed[:, :, None], at_pair[:, None, :]].mean(axis=(1, 2))
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def markdown(summary: pl.DataFrame, title: str, notes: list[str], tail: Sequence[str] = ()) -> str:
    """The report: the notes (command, time, data), one table per recipe and slice, then
    `tail` (with two recipes, their verdicts side by side)."""
    lines = [f"# {title}", "", *notes, ""]
    for recipe in recipe_order(summary):
        of_recipe = summary.filter(pl.col("recipe") == recipe)
        for name in slice_order(of_recipe):
            part = of_recipe.filter(pl.col("slice") == name)
            pairs = int(part["pairs"][0])
            lines += [f"## {recipe} recipe, {name} slice ({pairs:,} test pairs)", ""]
            lines += _slice_table(part)
    return "\n".join([*lines, *tail])


def _slice_table(part: pl.DataFrame) -> list[str]:
    lines = [
        "| recipe | method | ratio | accuracy (95% CI) | change vs clean (95% CI) | pairs "
        "edited (in this slice) | flips learned | seeds |",
        "|---|---|---:|---|---|---:|---:|---:|",
    ]
    for row in part.iter_rows(named=True):
        change = (
            "—"
            if row["method"] == "clean"
            else f"{row['change']:+.3f} ({row['change_low']:+.3f} to {row['change_high']:+.3f})"
        )
        ratio = "—" if row["method"] == "clean" else f"{row['ratio']:g}%"
        lines.append(
            f"| {row['recipe']} | {METHOD_LABELS[row['method']]} | {ratio} | "
            f"{row['accuracy']:.3f} ({row['accuracy_low']:.3f}–{row['accuracy_high']:.3f}) | "
            f"{change} | {row['edited']:.0f} ({row['edited_in_slice']:.0f}) | "
            f"{_share(row.get('flips_learned'))} | {row['runs']} |"
        )
    return [*lines, ""]


def _share(value: float | None) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:.0%}"


def recipe_order(summary: pl.DataFrame) -> list[str]:
    """The recipes of a summary, the full one (the real retrain) first."""
    names = summary["recipe"].unique().to_list() if "recipe" in summary.columns else ["fast"]
    return sorted(names, key=lambda name: (name != "full", name))


def slice_order(summary: pl.DataFrame) -> list[str]:
    """The safety slice first: it is what the edits aim at."""
    return sorted(set(summary["slice"].to_list()), key=lambda name: (name != "safety", name))


def plot(summary: pl.DataFrame, path: Path) -> None:
    """Accuracy against the ratio per method, a row for poisoning and one for denoising per
    recipe, one column per slice, with 95% bands; the clean runs as a band across."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    slices = slice_order(summary)
    recipes = recipe_order(summary)
    families = (("safer-poison", "random-flip"), ("safer-denoise", "random-remove"))
    rows = [(recipe, family) for recipe in recipes for family in families]
    fig, axes = plt.subplots(
        len(rows), len(slices), figsize=(5 * len(slices), 3.5 * len(rows)), squeeze=False
    )
    for col, name in enumerate(slices):
        for row, (recipe, family) in enumerate(rows):
            part = summary.filter((pl.col("slice") == name) & (pl.col("recipe") == recipe))
            _plot_family(axes[row][col], part, family)
            kind = "poisoning" if family[0] == "safer-poison" else "denoising"
            axes[row][col].set_title(f"{recipe} recipe · {name}: {kind}")
    fig.tight_layout()
    with atomic_file(path) as partial:
        fig.savefig(partial, dpi=110, format="png")
    plt.close(fig)


def _plot_family(ax: Any, part: pl.DataFrame, family: tuple[str, str]) -> None:
    clean = part.filter(pl.col("method") == "clean").row(0, named=True)
    ax.axhspan(clean["accuracy_low"], clean["accuracy_high"], color="0.85")
    ax.axhline(clean["accuracy"], color="0.4", lw=1, label="clean")
    for method in family:
        runs = part.filter(pl.col("method") == method).sort("ratio")
        if runs.height == 0:
            continue
        # every line starts at 0% edited: the clean runs
        x = np.concatenate([[0.0], runs["ratio"].to_numpy()])
        y = [clean["accuracy"], *runs["accuracy"]]
        low = [clean["accuracy_low"], *runs["accuracy_low"]]
        high = [clean["accuracy_high"], *runs["accuracy_high"]]
        ax.plot(x, y, marker="o", label=METHOD_LABELS[method])
        ax.fill_between(x, low, high, alpha=0.2)
    ax.set_xlabel("% of train pairs edited")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)


def write_report(
    summary: pl.DataFrame,
    folder: Path,
    title: str,
    notes: list[str],
    tail: Sequence[str] = (),
    tables: dict[str, pl.DataFrame] | None = None,
) -> Path:
    """`report.md` (ending with `tail`), `report.png`, the summary as `summary.parquet` and
    each of `tables` as `<name>.parquet` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    plot(summary, folder / "report.png")
    with atomic_file(folder / "summary.parquet") as partial:
        summary.write_parquet(partial)
    for name, table in (tables or {}).items():
        with atomic_file(folder / f"{name}.parquet") as partial:
            table.write_parquet(partial)
    text = markdown(summary, title, notes, tail) + "\n![accuracy by ratio](report.png)\n"
    write_text_atomic(folder / "report.md", text)
    return folder / "report.md"
