"""Balanced accuracy and ROC AUC, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from safer_engine.analysis.classification import balanced_accuracy, roc_auc
from safer_engine.errors import AnalysisError


def test_balanced_accuracy_matches_scikit_learn_whatever_the_class_balance() -> None:
    rng = np.random.default_rng(0)
    for positives in (1, 3, 10, 29):
        truth = np.r_[np.ones(positives, bool), np.zeros(30 - positives, bool)]
        predicted = rng.random(30) < 0.5
        assert balanced_accuracy(truth, predicted) == pytest.approx(
            balanced_accuracy_score(truth, predicted)
        )


def test_a_constant_answer_is_chance_and_a_perfect_one_is_one() -> None:
    truth = np.array([True, True, True, False])
    assert balanced_accuracy(truth, np.ones(4, bool)) == 0.5
    assert balanced_accuracy(truth, np.zeros(4, bool)) == 0.5
    assert balanced_accuracy(truth, truth) == 1.0
    assert balanced_accuracy(truth, ~truth) == 0.0
    # all three positives found, the one negative wrongly called positive: (1 + 0) / 2
    assert balanced_accuracy(truth, np.array([True, True, True, True])) == 0.5
    assert balanced_accuracy(truth, np.array([True, False, False, False])) == pytest.approx(
        (1 / 3 + 1) / 2
    )


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(1)
    truth = rng.random(40) < 0.4
    score = np.round(rng.random(40), 1)  # many ties
    assert roc_auc(truth, score) == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
    assert roc_auc(np.array([True, False]), np.array([0.5, 0.5])) == 0.5


def test_one_class_or_mismatched_lengths_are_refused() -> None:
    with pytest.raises(AnalysisError, match="both classes"):
        balanced_accuracy(np.ones(3, bool), np.ones(3, bool))
    with pytest.raises(AnalysisError, match="both classes"):
        roc_auc(np.zeros(3, bool), np.arange(3.0))
    with pytest.raises(AnalysisError, match="one length"):
        balanced_accuracy(np.array([True, False]), np.array([True]))
    with pytest.raises(AnalysisError, match="NaN"):
        roc_auc(np.array([True, False]), np.array([np.nan, 1.0]))
