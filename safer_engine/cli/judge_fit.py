"""How `safer judge --score` shows explanation fits: the table's columns, the totals and
what a dry run would cost."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from safer_engine.config import FitConfig
from safer_engine.judge import FitPlan, FitReport, calls_per_feature
from safer_engine.labels import Fit

COLUMNS = {"detection": ("fit", "auc"), "fuzzing": ("fuzz",)}
"""The table's columns for each method: detection's balanced accuracy is the fit."""


def fit_column_names(fits: FitReport | None) -> list[str]:
    if fits is None:
        return []
    methods = {job.method for job in fits.plan.jobs} or {"detection"}
    return [name for method, names in COLUMNS.items() if method in methods for name in names]


def fit_cells(fits: FitReport, feature: int, explanation: Text) -> list[Text]:
    """The feature's fit columns; a failed scoring's reason goes under its explanation."""
    cells = []
    for name in fit_column_names(fits):
        method = "fuzzing" if name == "fuzz" else "detection"
        fit = fits.get(feature, method)
        cells.append(_cell(fit, name))
        if name != "auc" and fit is not None and not fit.ok:
            explanation.append(f"\n{name}: {fit.failure_kind}: {fit.failure}", style="red")
    return cells


def _cell(fit: Fit | None, name: str) -> Text:
    if fit is None:
        return Text("—", style="dim")
    if not fit.ok:
        return Text("" if name == "auc" else "failed", style="red")
    value = fit.auc if name == "auc" else fit.balanced_accuracy
    return Text("" if value is None else f"{value:.2f}", style="bold" if name == "fit" else "")


def show_fit_totals(console: Console, fits: FitReport) -> None:
    t = fits.totals
    held = [fit for fit in fits.results.values() if fit.ok]
    contexts = f" on {held[0].firing} + {held[0].silent} held-out contexts" if held else ""
    console.print(
        f"Explanation fits: scored {t.scored}, cached {t.cached}, failed {t.failed}{contexts}; "
        f"{t.calls} call(s), {t.retries} retr{'y' if t.retries == 1 else 'ies'}, "
        f"{t.prompt_tokens:,} prompt + {t.completion_tokens:,} completion tokens.",
        highlight=False,
    )
    if fits.plan.unexplained:
        console.print(
            "Not scored, having no usable explanation: "
            + ", ".join(map(str, fits.plan.unexplained)),
            style="dim",
            highlight=False,
        )


def show_fit_dry_run(console: Console, fits: FitPlan, config: FitConfig) -> None:
    """What scoring the explanations would cost: exact for the explanations already stored,
    at most so much for the features still to be judged."""
    pending = len(fits.unexplained)
    explained = len({job.feature for job in fits.jobs})
    cached = len(fits.jobs) - len(fits.to_ask)
    line = (
        f"Scoring the {explained} stored explanation(s) would make {fits.calls} call(s) "
        f"({cached} score(s) cached)"
    )
    if pending:
        most = pending * calls_per_feature(config)
        line += (
            f"; the {pending} feature(s) without one yet, up to {most} more "
            f"({config.score_firing} + {config.score_silent} contexts, "
            f"{config.score_batch} per call, per method)"
        )
    console.print(line + ".", highlight=False)
