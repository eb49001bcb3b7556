"""How well a ranking finds the flipped pairs: AUROC, average precision, and precision and
recall among the top k (k = the number of flipped pairs, the true noise rate).

`suspicion` is higher for pairs a method finds more likely mislabelled. AUROC counts tied
scores as half right (the Mann–Whitney statistic with average ranks); average precision sums
precision over the distinct thresholds, weighted by the recall each adds: both exactly as
scikit-learn's `roc_auc_score` and `average_precision_score` compute them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from safer_engine.analysis.classification import roc_auc
from safer_engine.errors import AnalysisError


@dataclass(frozen=True)
class Detection:
    """One method's ranking scored against the truth."""

    auroc: float
    average_precision: float
    precision: float
    """Of the k most suspect pairs, the share that were flipped."""
    recall: float
    """Of the flipped pairs, the share among the k most suspect."""
    k: int
    pairs: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _checked(truth: np.ndarray, suspicion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(truth, dtype=bool)
    suspicion = np.asarray(suspicion, dtype=np.float64)
    if truth.ndim != 1 or truth.shape != suspicion.shape:
        raise AnalysisError(
            f"truth {list(truth.shape)} and suspicion {list(suspicion.shape)} must be two "
            "vectors of one length."
        )
    if not np.isfinite(suspicion).all():
        raise AnalysisError("A suspicion score is NaN or infinite.", "Rank finite scores only.")
    positives = int(truth.sum())
    if positives == 0 or positives == truth.size:
        raise AnalysisError(
            "Finding flipped pairs needs both flipped and unflipped pairs.",
            "Flip some but not all of the pairs.",
        )
    return truth, suspicion


def auroc(truth: np.ndarray, suspicion: np.ndarray) -> float:
    """The chance that a flipped pair is more suspect than an unflipped one (ties: ½)."""
    truth, suspicion = _checked(truth, suspicion)
    return roc_auc(truth, suspicion)


def average_precision(truth: np.ndarray, suspicion: np.ndarray) -> float:
    """Σ over distinct thresholds of (recall gained) × precision, most suspect first."""
    truth, suspicion = _checked(truth, suspicion)
    order = np.argsort(-suspicion, kind="stable")
    ordered, hits = suspicion[order], truth[order]
    true_pos = np.cumsum(hits)
    # a threshold ends where the next score differs (tied pairs enter together)
    ends = np.r_[np.flatnonzero(np.diff(ordered)), ordered.size - 1]
    precision = true_pos[ends] / (ends + 1)
    recall = true_pos[ends] / true_pos[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def top_k(suspicion: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k most suspect, ties in index order (callers keep pairs by id)."""
    return np.argsort(-np.asarray(suspicion, dtype=np.float64), kind="stable")[:k]


def detection(truth: np.ndarray, suspicion: np.ndarray, k: int | None = None) -> Detection:
    """Every measure of one ranking; k defaults to the number of flipped pairs."""
    truth, suspicion = _checked(truth, suspicion)
    positives = int(truth.sum())
    k = positives if k is None else k
    if not 1 <= k <= truth.size:
        raise AnalysisError(f"k must be between 1 and {truth.size}, not {k}.")
    found = int(truth[top_k(suspicion, k)].sum())
    return Detection(
        auroc=auroc(truth, suspicion),
        average_precision=average_precision(truth, suspicion),
        precision=found / k,
        recall=found / positives,
        k=k,
        pairs=int(truth.size),
    )
