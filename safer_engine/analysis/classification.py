"""How well yes/no answers (and their probabilities) separate two classes: balanced accuracy
and the area under the ROC curve, as scikit-learn's `balanced_accuracy_score` and
`roc_auc_score` compute them. The judge's explanation scores use them; so does the noise
benchmark's AUROC.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from safer_engine.errors import AnalysisError


def _both_classes(truth: np.ndarray, other: np.ndarray, what: str) -> np.ndarray:
    truth = np.asarray(truth, dtype=bool)
    if truth.ndim != 1 or truth.shape != np.shape(other):
        raise AnalysisError(
            f"truth {list(truth.shape)} and {what} {list(np.shape(other))} must be two vectors "
            "of one length."
        )
    positives = int(truth.sum())
    if positives == 0 or positives == truth.size:
        raise AnalysisError(
            "Scoring a classifier needs examples of both classes.",
            "Give at least one positive and one negative example.",
        )
    return truth


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """The mean of the true-positive and true-negative rates: 0.5 for a constant or random
    answer whatever the class balance, 1 for a perfect one."""
    truth = _both_classes(truth, predicted, "predicted")
    predicted = np.asarray(predicted, dtype=bool)
    hit_rate = float((predicted & truth).sum() / truth.sum())
    reject_rate = float((~predicted & ~truth).sum() / (~truth).sum())
    return (hit_rate + reject_rate) / 2


def roc_auc(truth: np.ndarray, score: np.ndarray) -> float:
    """The chance that a positive scores above a negative (ties count half): the
    Mann–Whitney statistic with average ranks."""
    truth = _both_classes(truth, score, "score")
    score = np.asarray(score, dtype=np.float64)
    if not np.isfinite(score).all():
        raise AnalysisError("A score is NaN or infinite.", "Rank finite scores only.")
    positives = int(truth.sum())
    negatives = truth.size - positives
    ranks = rankdata(score)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))
