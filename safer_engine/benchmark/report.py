"""The noise benchmark's report: per noise level, how well each method finds the flipped pairs
and what removing its most suspect pairs does to accuracy on the clean test pairs, as the
mean over seeds with a 95% t-interval, in markdown and as a plot.

With few seeds the intervals are wide (two seeds: t = 12.7 times the standard error), and
they are meant to be: they say how much the seeds disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import t as student_t

from safer_engine.benchmark.cell import CellOutcome
from safer_engine.benchmark.methods import METHOD_LABELS, REFERENCES
from safer_engine.files import atomic_file, write_text_atomic

DETECTION = ("auroc", "average_precision", "precision", "recall")
SLICES = ("safety", "general", "all")


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """The mean and its 95% t-interval (NaN bounds with a single value)."""
    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    if array.size < 2:
        return mean, math.nan, math.nan
    half = float(student_t.ppf(0.975, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return mean, mean - half, mean + half


def results_table(outcomes: list[CellOutcome]) -> pl.DataFrame:
    """One row per cell and method or reference run: every measure of that seed."""
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        for name, accuracy in outcome.accuracy.items():
            found = outcome.detection.get(name)
            row: dict[str, Any] = {
                "noise": outcome.cell.noise,
                "seed": outcome.cell.seed,
                "method": name,
                "reference": name in REFERENCES,
                "flipped": outcome.flipped,
                "safety_train": outcome.safety_train,
            }
            for measure in DETECTION:
                row[measure] = getattr(found, measure) if found is not None else None
            for name_ in SLICES:
                row[f"{name_}_accuracy"] = accuracy.get(name_)
            row["cleanlab_flagged"] = outcome.cleanlab_flagged if name == "cleanlab" else None
            rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


def summarise(results: pl.DataFrame) -> pl.DataFrame:
    """One row per noise level and method: the mean of each measure over seeds, with its
    95% interval (`<measure>_low`, `<measure>_high`)."""
    rows = []
    measures = [*DETECTION, *(f"{s}_accuracy" for s in SLICES), "cleanlab_flagged"]
    for (noise, method), part in results.group_by(["noise", "method"], maintain_order=True):
        row: dict[str, Any] = {
            "noise": noise,
            "method": method,
            "reference": bool(part["reference"][0]),
            "seeds": part.height,
            "flipped": float(part["flipped"].mean()),  # type: ignore[arg-type]
            "safety_train": int(part["safety_train"][0]),
        }
        for measure in measures:
            values = part[measure].drop_nulls().to_list()
            mean, low, high = mean_interval(values) if values else (math.nan,) * 3
            row |= {measure: mean, f"{measure}_low": low, f"{measure}_high": high}
        rows.append(row)
    order = list(METHOD_LABELS)
    return pl.DataFrame(rows).sort(
        [pl.col("noise"), pl.col("method").map_elements(order.index, return_dtype=pl.Int64)]
    )


def best_methods(summary: pl.DataFrame) -> dict[float, tuple[str, str]]:
    """Per noise level, the method with the highest mean AUROC and the one with the highest
    mean average precision (random included, so a method that loses to chance says so)."""
    found = {}
    methods = summary.filter(~pl.col("reference"))
    for noise in sorted(set(methods["noise"].to_list())):
        part = methods.filter(pl.col("noise") == noise)
        by_auroc = part.sort("auroc", descending=True)["method"][0]
        by_ap = part.sort("average_precision", descending=True)["method"][0]
        found[noise] = (str(by_auroc), str(by_ap))
    return found


def not_separated(summary: pl.DataFrame, noise: float, best: str, measure: str) -> list[str]:
    """The other methods whose 95% interval of `measure` holds the best method's mean: over
    this few seeds the data cannot tell them apart from the best."""
    part = summary.filter((pl.col("noise") == noise) & ~pl.col("reference"))
    mean = part.filter(pl.col("method") == best)[measure][0]
    close = part.filter(
        (pl.col("method") != best)
        & (pl.col(f"{measure}_low") <= mean)
        & (pl.col(f"{measure}_high") >= mean)
    )
    return [str(m) for m in close["method"]]


def _best_line(summary: pl.DataFrame, noise: float, by_auroc: str, by_ap: str) -> str:
    def named(best: str, measure: str, what: str) -> str:
        close = [METHOD_LABELS[m] for m in not_separated(summary, noise, best, measure)]
        tie = f" (not separated from {', '.join(close)}: its mean is in their 95% intervals)"
        return f"**{METHOD_LABELS[best]}** by {what}" + (tie if close else "")

    line = "Best at finding the flipped pairs: " + named(by_auroc, "auroc", "AUROC")
    return line + (
        "."
        if by_ap == by_auroc
        else ", " + named(by_ap, "average_precision", "average precision") + "."
    )


def _cell(row: dict[str, Any], measure: str) -> str:
    mean = row[measure]
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    low, high = row[f"{measure}_low"], row[f"{measure}_high"]
    if math.isnan(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} ({max(low, 0.0):.2f}–{min(high, 1.0):.2f})"


def markdown(summary: pl.DataFrame, title: str, notes: list[str]) -> str:
    """Notes, then one table per noise level, then which method found flipped pairs best."""
    lines = [f"# {title}", "", *notes, ""]
    best = best_methods(summary)
    for noise in sorted(set(summary["noise"].to_list())):
        part = summary.filter(pl.col("noise") == noise)
        first = part.row(0, named=True)
        lines += [
            f"## {noise:g}% of the safety train pairs flipped ({first['flipped']:.0f} of "
            f"{first['safety_train']:,}; {first['seeds']} seed{'s' * (first['seeds'] > 1)})",
            "",
            "| method | AUROC | average precision | precision at k | recall at k | safety "
            "accuracy after removing its top k | general accuracy | all |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in part.iter_rows(named=True):
            label = METHOD_LABELS.get(row["method"], row["method"])
            label = f"*{label}*" if row["reference"] else label
            cells = [_cell(row, m) for m in (*DETECTION, *(f"{s}_accuracy" for s in SLICES))]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        by_auroc, by_ap = best[noise]
        flagged = part.filter(pl.col("method") == "cleanlab")
        lines += ["", _best_line(summary, noise, by_auroc, by_ap)]
        if flagged.height and not math.isnan(flagged["cleanlab_flagged"][0]):
            lines.append(
                f"cleanlab's `find_label_issues` called {flagged['cleanlab_flagged'][0]:.0f} "
                "pairs label issues (mean over seeds)."
            )
        lines.append("")
    return "\n".join(lines)


def plot(summary: pl.DataFrame, path: Path) -> None:
    """AUROC by noise level per method; safety and general accuracy after each method's
    removal, with the noisy, oracle and clean runs for reference; 95% intervals as bars."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    panels = (
        ("auroc", "AUROC finding flipped pairs"),
        ("safety_accuracy", "safety accuracy after removal"),
        ("general_accuracy", "general accuracy after removal"),
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2))
    for ax, (measure, title) in zip(axes, panels, strict=True):
        for method in METHOD_LABELS:
            part = summary.filter(pl.col("method") == method).sort("noise")
            if part.height == 0 or (measure == "auroc" and method in REFERENCES):
                continue
            x = part["noise"].to_numpy()
            y = part[measure].to_numpy()
            # Every measure lies in [0, 1]; a t-interval over two seeds can reach past it.
            low = np.nan_to_num(y - np.clip(part[f"{measure}_low"].to_numpy(), 0, 1))
            high = np.nan_to_num(np.clip(part[f"{measure}_high"].to_numpy(), 0, 1) - y)
            style = {"ls": "--", "marker": "s"} if method in REFERENCES else {"marker": "o"}
            ax.errorbar(x, y, yerr=[low, high], capsize=3, label=METHOD_LABELS[method], **style)
        if measure == "auroc":
            ax.axhline(0.5, color="0.6", lw=1, ls=":")
        ax.set_ylim(top=1.02)
        ax.set_title(title)
        ax.set_xlabel("% of safety train pairs flipped")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    with atomic_file(path) as partial:
        fig.savefig(partial, dpi=110, format="png")
    plt.close(fig)


def write_report(
    outcomes: list[CellOutcome], folder: Path, title: str, notes: list[str]
) -> tuple[Path, pl.DataFrame]:
    """`report.md`, `report.png`, `results.parquet` (every seed) and `summary.parquet`."""
    folder.mkdir(parents=True, exist_ok=True)
    results = results_table(outcomes)
    summary = summarise(results)
    plot(summary, folder / "report.png")
    for name, frame in (("results.parquet", results), ("summary.parquet", summary)):
        with atomic_file(folder / name) as partial:
            frame.write_parquet(partial)
    text = markdown(summary, title, notes) + "\n![AUROC and accuracy by noise](report.png)\n"
    write_text_atomic(folder / "report.md", text)
    return folder / "report.md", summary
