"""How well the judge's explanations fit, as the explorer shows them: the Features table's
`fit` cell and sort, and the line under the explanation on a feature's page."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from safer_engine.service.judging import Fit, Judgement

FAILED = "✗"
NOT_SCORED = np.nan
FAILED_VALUE = -1.0
"""A fit that failed, in the table's array (NaN: never scored)."""


def fit_value(fit: Fit) -> float:
    """A fit as the table holds it: its balanced accuracy, or -1 for a failure."""
    return fit.balanced_accuracy if fit.balanced_accuracy is not None else FAILED_VALUE


def fit_cell(value: float) -> str:
    """'0.85'; ✗ for a failure; blank when never scored."""
    if np.isnan(value):
        return ""
    return FAILED if value < 0 else f"{value:.2f}"


def fit_sort_key(values: np.ndarray, descending: bool) -> np.ndarray:
    """Best (or worst) fit first, then failures, then features never scored, either way."""
    scored = values >= 0
    key = np.where(scored, -values if descending else values, 0.0)
    return np.where(np.isnan(values), 3.0, np.where(scored, key, 2.0))


def fit_line(judgement: Judgement | None, fit: Fit | None) -> Text | None:
    """The page's line under the explanation: how well it fits on held-out contexts, or why
    it has no figure; nothing when it was never scored (or there is no explanation)."""
    if judgement is None or judgement.score is None or fit is None:
        return None
    text = Text.assemble(("fit ", "bold"))
    if fit.balanced_accuracy is None:
        text.append(f"{FAILED} not scored", style="bold")
        return text.append(f" ({fit.failure_kind}: {fit.failure})", style="dim")
    text.append(f"{fit.balanced_accuracy:.2f}", style="bold")
    auc = f", AUC {fit.auc:.2f}" if fit.auc is not None else ""
    return text.append(
        f" balanced accuracy{auc} on {fit.firing} held-out contexts where it fires and "
        f"{fit.silent} where it does not (0.5 is chance; {fit.model})",
        style="dim",
    )
