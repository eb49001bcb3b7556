"""AUROC and average precision equal scikit-learn's on the same arrays, ties included; precision
and recall at k count the top k."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from safer_engine.benchmark.metrics import auroc, average_precision, detection, top_k
from safer_engine.errors import AnalysisError


@pytest.mark.parametrize("seed", range(6))
def test_against_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    truth = rng.random(n) < 0.2
    truth[:2] = [True, False]
    # coarse scores make many ties
    suspicion = np.round(rng.normal(size=n) + truth * 0.7, 0 if seed % 2 else 3)
    assert auroc(truth, suspicion) == pytest.approx(roc_auc_score(truth, suspicion), abs=1e-12)
    assert average_precision(truth, suspicion) == pytest.approx(
        average_precision_score(truth, suspicion), abs=1e-12
    )


def test_by_hand() -> None:
    truth = np.array([True, False, True, False, False])
    suspicion = np.array([0.9, 0.8, 0.3, 0.1, 0.3])
    # pairs (flipped, unflipped): 0.9 beats all three; 0.3 beats 0.1, ties 0.3, loses to 0.8
    assert auroc(truth, suspicion) == pytest.approx((3 + 1.5) / 6)
    # thresholds 0.9 (P 1, R ½), 0.8 (P ½), 0.3 (P ½, R 1): ½·1 + ½·½
    assert average_precision(truth, suspicion) == pytest.approx(0.75)
    found = detection(truth, suspicion)
    assert (found.k, found.precision, found.recall) == (2, 0.5, 0.5)
    assert top_k(suspicion, 3).tolist() == [0, 1, 2]  # the tie goes to the earlier pair
    assert auroc(truth, -suspicion) == pytest.approx(1 - auroc(truth, suspicion))


def test_bad_input() -> None:
    with pytest.raises(AnalysisError, match="both flipped and unflipped"):
        auroc(np.zeros(4, dtype=bool), np.arange(4.0))
    with pytest.raises(AnalysisError, match="NaN"):
        average_precision(np.array([True, False]), np.array([np.nan, 1.0]))
    with pytest.raises(AnalysisError, match="one length"):
        auroc(np.array([True, False]), np.arange(3.0))
