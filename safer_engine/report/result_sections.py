"""The report's sections on what the edits did: every plan, every run against its clean run,
the experiment's accuracy by edit ratio, and the noise benchmark's detection and accuracy."""

from __future__ import annotations

import math
from html import escape
from typing import Any

import polars as pl

from safer_engine.benchmark.methods import METHOD_LABELS as BENCHMARK_LABELS
from safer_engine.benchmark.methods import REFERENCES
from safer_engine.experiment.report import METHOD_LABELS, recipe_order, slice_order
from safer_engine.report.charts import Band, Series, line_chart
from safer_engine.report.gather import AuditData
from safer_engine.report.page import interval, number, paragraph, section, table

SLICES = ("safety", "general", "all")
FAMILIES = (
    ("safer-poison", "random-flip", "poisoning"),
    ("safer-denoise", "random-remove", "denoising"),
)


def plans_section(data: AuditData) -> str:
    if not data.plans:
        return section(
            "plans", "Edit plans", [paragraph("No edit plans yet: `safer edit plan` makes one.")]
        )
    rows = []
    for plan in data.plans:
        config = plan.config
        source = (plan.selection or {}).get("source", "")
        counts = ", ".join(f"{n:,} {s}" for s, n in sorted(plan.counts.items())) or "none"
        rows.append(
            [
                plan.plan_id,
                config.get("mode", ""),
                f"{config.get('ratio', 0):g}%",
                plan.action,
                source or "—",
                counts,
                f"{len(plan.edits):,} of {plan.train_pairs:,}",
            ]
        )
    headers = ["plan", "mode", "ratio", "action", "features from", "edited by slice", "edited"]
    return section("plans", "Edit plans", [table(headers, rows, 1, ids=True)])


def runs_section(data: AuditData) -> str:
    if not data.runs:
        return section("runs", "Runs", [paragraph("No reward model trained yet.")])
    parts = [
        paragraph(
            "Every reward model of the workspace, tested on the same clean test pairs: the "
            "analysed one (base), then each retrain. An edited run's change is against the "
            "clean run of its recipe and seed."
        )
    ]
    rows = []
    for run in data.runs:
        accuracy = run.info.get("accuracy", {})
        clean = data.compared.get(run.run_id)
        before = clean.info.get("accuracy", {}) if clean is not None else {}
        change = [
            number(accuracy[s] - before[s], signed=True) if s in accuracy and s in before else ""
            for s in ("safety", "general")
        ]
        status = run.status if not run.error else f"{run.status}: {run.error}"
        kind = "analysed model" if run.is_base else "edited" if run.plan else "clean"
        rows.append(
            [
                run.run_id,
                kind,
                run.recipe,
                "" if run.seed is None or run.is_base else run.seed,
                status,
                *(number(accuracy.get(s)) for s in SLICES),
                *change,
            ]
        )
    headers = ["run", "", "recipe", "seed", "status", *SLICES, "Δ safety", "Δ general"]
    parts.append(table(headers, rows, 6, ids=True))
    return section("runs", "Runs", parts)


def experiment_section(data: AuditData) -> str:
    found = data.experiment
    if found is None:
        return section(
            "experiment",
            "Experiment",
            [paragraph("No experiment yet: `safer experiment` runs the grid.")],
        )
    summary = found.table
    if "recipe" not in summary.columns:  # experiments from before recipes were all fast
        summary = summary.with_columns(pl.lit("fast").alias("recipe"))
    parts = [
        paragraph(
            f"{found.report_id}"
            + (f" (the latest of {found.others + 1})" if found.others else "")
            + ": test accuracy against the share of train pairs edited, SAFER's edits beside "
            "random ones of the same size, with 95% bootstrap intervals over seeds and test "
            "pairs; the grey band is the clean runs."
        )
    ]
    for recipe in recipe_order(summary):
        part = summary.filter(pl.col("recipe") == recipe)
        charts = []
        for name in slice_order(part):
            own = part.filter(pl.col("slice") == name)
            for safer, random, kind in FAMILIES:
                charts.append(_family_chart(own, (safer, random), f"{recipe} · {name}: {kind}"))
        parts.append(f"<h3>{escape(recipe)} recipe</h3>")
        parts.append('<div class="charts">' + "".join(c for c in charts if c) + "</div>")
        parts.append(_experiment_table(part))
    return section("experiment", "Experiment", parts)


def _family_chart(part: pl.DataFrame, methods: tuple[str, str], title: str) -> str:
    clean_rows = part.filter(pl.col("method") == "clean")
    if clean_rows.height == 0:
        return ""
    clean = clean_rows.row(0, named=True)
    series = []
    for method in methods:
        runs = part.filter(pl.col("method") == method).sort("ratio")
        if runs.height == 0:
            continue
        series.append(
            Series(
                METHOD_LABELS.get(method, method),
                [0.0, *runs["ratio"].to_list()],
                [clean["accuracy"], *runs["accuracy"].to_list()],
                [clean["accuracy_low"], *runs["accuracy_low"].to_list()],
                [clean["accuracy_high"], *runs["accuracy_high"].to_list()],
            )
        )
    if not series:
        return ""
    band = Band("clean", clean["accuracy"], clean["accuracy_low"], clean["accuracy_high"])
    return line_chart(title, series, "% of train pairs edited", "test accuracy", band)


def _experiment_table(part: pl.DataFrame) -> str:
    rows = []
    for name in slice_order(part):
        for row in part.filter(pl.col("slice") == name).iter_rows(named=True):
            clean = row["method"] == "clean"
            rows.append(
                [
                    name,
                    METHOD_LABELS.get(row["method"], row["method"]),
                    "" if clean else f"{row['ratio']:g}%",
                    number(row["accuracy"]),
                    "" if clean else number(row["change"], signed=True),
                    "" if clean else interval(row["change_low"], row["change_high"], signed=True),
                    f"{row['edited']:.0f}",
                    _share(row.get("flips_learned")),
                    row["runs"],
                ]
            )
    headers = ["slice", "method", "ratio", "accuracy", "change", "95% CI", "edited"]
    return table([*headers, "flips learned", "runs"], rows, 7)


def _share(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.0%}"


def benchmark_section(data: AuditData) -> str:
    found = data.benchmark
    if found is None:
        return section(
            "benchmark",
            "Noise benchmark",
            [paragraph("No noise benchmark yet: `safer benchmark noise` runs one.")],
        )
    summary = found.table
    parts = [
        paragraph(
            f"{found.report_id}"
            + (f" (the latest of {found.others + 1})" if found.others else "")
            + ": a known share of the safety train pairs flipped on purpose, then each method "
            "ranks the pairs by suspicion; mean over seeds with 95% t-intervals. Dashed lines "
            "are references (no removal, the flipped pairs removed, the clean data)."
        )
    ]
    charts = [
        _benchmark_chart(summary, "auroc", "Finding the flipped pairs", "AUROC", 0.5),
        _benchmark_chart(summary, "safety_accuracy", "Safety accuracy after removal", "accuracy"),
        _benchmark_chart(summary, "general_accuracy", "General accuracy after removal", "accuracy"),
    ]
    parts.append('<div class="charts">' + "".join(c for c in charts if c) + "</div>")
    rows = []
    for row in summary.iter_rows(named=True):
        label = BENCHMARK_LABELS.get(row["method"], row["method"])
        rows.append(
            [
                f"{row['noise']:g}%",
                label + (" (reference)" if row["reference"] else ""),
                row["seeds"],
                *(_mean_ci(row, m) for m in ("auroc", "average_precision", "precision", "recall")),
                *(_mean_ci(row, f"{s}_accuracy") for s in ("safety", "general")),
            ]
        )
    headers = ["noise", "method", "seeds", "AUROC", "average precision", "precision at k"]
    headers += ["recall at k", "safety accuracy", "general accuracy"]
    parts.append(table(headers, rows, 7))
    return section("benchmark", "Noise benchmark", parts)


def _benchmark_chart(
    summary: pl.DataFrame, measure: str, title: str, y_label: str, chance: float | None = None
) -> str:
    series = []
    for method in BENCHMARK_LABELS:
        part = summary.filter(pl.col("method") == method).sort("noise")
        if part.height == 0 or (measure == "auroc" and method in REFERENCES):
            continue
        series.append(
            Series(
                BENCHMARK_LABELS[method],
                part["noise"].to_list(),
                part[measure].to_list(),
                _clipped(part[f"{measure}_low"].to_list()),
                _clipped(part[f"{measure}_high"].to_list()),
                dashed=method in REFERENCES,
            )
        )
    return line_chart(
        title, series, "% of safety train pairs flipped", y_label, reference=chance, width=420
    )


def _clipped(values: list[Any]) -> list[float]:
    """Every measure lies in [0, 1]; a t-interval over few seeds can reach past it."""
    return [min(max(float(v), 0.0), 1.0) if v is not None else math.nan for v in values]


def _mean_ci(row: dict[str, Any], measure: str) -> str:
    mean = row.get(measure)
    if mean is None or math.isnan(mean):
        return "—"
    low, high = row.get(f"{measure}_low"), row.get(f"{measure}_high")
    if low is None or high is None or math.isnan(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} ({max(low, 0.0):.2f}–{min(high, 1.0):.2f})"
