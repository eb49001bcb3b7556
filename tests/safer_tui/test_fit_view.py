"""Explanation fits as the explorer shows them: the Features table's `fit` column (shown once
any is scored, sorted best first with failures and unscored features last) and the line
under the explanation on a feature's page."""

from __future__ import annotations

import numpy as np

from safer_engine.service.judging import Fit, Judgement
from safer_tui.feature_columns import FIT
from safer_tui.feature_view import FeatureView
from safer_tui.fit_view import fit_cell, fit_line
from tests.safer_tui.conftest import feature_table


def judgement(feature: int, score: int | None = 5) -> Judgement:
    failure = None if score is not None else "no 'Score: N' line"
    return Judgement(
        "sae",
        feature,
        "h",
        "openai",
        "m",
        None,
        score,
        "refusals",
        failure,
        None if failure is None else "answer",
        "",
    )


def fit(feature: int, accuracy: float | None, auc: float | None = None) -> Fit:
    failure = None if accuracy is not None else "2 of 20 answers unusable"
    return Fit(
        "sae",
        feature,
        "detection",
        "f",
        "openai",
        "judge-test",
        None,
        "refusals",
        accuracy,
        auc,
        10,
        9,
        1,
        failure,
        None if failure is None else "answer",
    )


def test_the_fit_column_shows_once_any_fit_is_scored() -> None:
    view = FeatureView(feature_table(12), {})
    assert FIT not in view.columns(160)
    view.set_fits({3: fit(3, 0.85), 4: fit(4, None)})
    assert FIT in view.columns(160) and FIT in view.columns(80)
    assert FIT not in view.columns(79)  # the note keeps its width
    cells = {f: view.cells(view.position_of(f))["fit"] for f in (3, 4, 5)}  # type: ignore[arg-type]
    assert cells == {3: "0.85", 4: "✗", 5: ""}


def test_sorting_by_fit_puts_failures_then_unscored_features_last() -> None:
    fits = {1: fit(1, 0.6), 2: fit(2, 0.9), 3: fit(3, None), 4: fit(4, 0.75)}
    view = FeatureView(feature_table(8), {}, fits=fits)
    view.sort_by(FIT)
    assert view.shown_features()[:4] == [2, 4, 1, 3]
    view.sort_by(FIT, descending=False)
    assert view.shown_features()[:4] == [1, 4, 2, 3]
    assert fit_cell(np.nan) == "" and fit_cell(1.0) == "1.00"


def test_the_page_line_gives_the_figures_or_the_failure_and_nothing_unscored() -> None:
    line = fit_line(judgement(1), fit(1, 0.85, auc=0.9))
    assert line is not None
    assert str(line) == (
        "fit 0.85 balanced accuracy, AUC 0.90 on 10 held-out contexts where it fires and 9 "
        "where it does not (0.5 is chance; judge-test)"
    )
    failed = fit_line(judgement(1), fit(1, None))
    assert failed is not None and "✗ not scored (answer: 2 of 20 answers unusable)" in str(failed)
    assert fit_line(judgement(1), None) is None
    assert fit_line(judgement(1, None), fit(1, 0.85)) is None  # no explanation shown
    assert fit_line(None, None) is None
