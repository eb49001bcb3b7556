"""Explanation fits in labels.sqlite: stored beside the judgements, cached like them, and
shown only beside the explanation they scored."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from safer_engine.errors import WorkspaceError
from safer_engine.labels import SCHEMA_VERSION, Fit, FitLog, Judgement, JudgementLog, LabelStore
from safer_engine.labels.fits import fits

SAE = "L2-topk4-32"


def judged(feature: int, explanation: str = "refusals") -> Judgement:
    return Judgement(SAE, feature, "j1", "openai", "m", None, 5, explanation, None, None, "")


def fit(feature: int, accuracy: float | None = 0.8, **changes: object) -> Fit:
    figures = dict(balanced_accuracy=accuracy, auc=None, firing=10, silent=10, unusable=0)
    failure = {"failure": None, "failure_kind": None}
    if accuracy is None:
        failure = {"failure": "3 of 20 answers unusable", "failure_kind": "answer"}
    base = Fit(
        SAE, feature, "detection", "f1", "openai", "m", None, "refusals", **figures, **failure
    )  # type: ignore[arg-type]
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> LabelStore:
    return LabelStore.open(tmp_path / "labels.sqlite", author="alice")


def test_a_version_2_database_gains_the_table_and_keeps_its_judgements(tmp_path: Path) -> None:
    db = tmp_path / "labels.sqlite"
    with LabelStore.open(db) as store:
        JudgementLog(store).add(judged(3))
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE fits")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with LabelStore.open(db, read_only=True) as store:  # read-only: no table, no fits
        assert FitLog(store).latest(SAE) == {} and FitLog(store).last_id() == 0
    assert fits(db, SAE) == {}
    with LabelStore.open(db) as store:
        FitLog(store).add(fit(3))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()
    found = fits(db, SAE)
    assert found[3].balanced_accuracy == 0.8 and found[3].author
    assert fits(tmp_path / "missing.sqlite", SAE) == {}


def test_a_fit_shows_only_beside_the_explanation_it_scored(store: LabelStore) -> None:
    judgements, log = JudgementLog(store), FitLog(store)
    judgements.add(judged(1))
    log.add(fit(1))
    log.add(fit(2))  # feature 2 was never judged: its fit explains nothing shown
    assert set(log.latest(SAE)) == {1}
    judgements.add(replace(judged(1, "questions about chemistry"), prompt_hash="j2"))
    assert log.latest(SAE) == {}  # re-judged: the old fit says nothing about the new one
    log.add(fit(1, 0.6, explanation="questions about chemistry"))
    assert log.latest(SAE)[1].balanced_accuracy == 0.6
    assert log.latest(SAE, "fuzzing") == {}


def test_figures_win_over_a_later_failure_which_shows_without_them(store: LabelStore) -> None:
    JudgementLog(store).add(judged(1))
    JudgementLog(store).add(judged(2))
    log = FitLog(store)
    log.add(fit(1, 0.9))
    log.add(fit(1, None, failure="HTTP 500", failure_kind="request", prompt_hash="f2"))
    log.add(fit(2, None))
    latest = log.latest(SAE)
    assert latest[1].balanced_accuracy == 0.9
    assert latest[2].failure_kind == "answer" and not latest[2].ok
    assert log.last_id() == 3


def test_cache_matches_prompts_method_backend_and_model(store: LabelStore) -> None:
    log = FitLog(store)
    log.add(fit(1))
    log.add(fit(2, None))  # unusable answers: asking again gets the same
    log.add(fit(3, None, failure="timeout", failure_kind="request"))  # asked again
    log.add(fit(4, None, failure="too few contexts", failure_kind="contexts"))
    prompts = {1: "f1", 2: "f1", 3: "f1", 4: "f1"}
    found = log.cached(SAE, "detection", ("openai", "m"), prompts, retry_failed=False)
    assert set(found) == {1, 2, 4}
    retried = log.cached(SAE, "detection", ("openai", "m"), prompts, retry_failed=True)
    assert set(retried) == {1}
    assert log.cached(SAE, "detection", ("openai", "other"), prompts, False) == {}
    assert log.cached(SAE, "fuzzing", ("openai", "m"), prompts, False) == {}
    assert log.cached(SAE, "detection", ("openai", "m"), {1: "changed"}, False) == {}


def test_a_fit_has_figures_or_a_failure_and_its_figures_in_range(store: LabelStore) -> None:
    log = FitLog(store)
    with pytest.raises(ValueError, match="either"):
        log.add(fit(1, 0.8, failure="x", failure_kind="answer"))
    with pytest.raises(ValueError, match="either"):
        log.add(fit(1, None, failure=None, failure_kind=None))
    with pytest.raises(WorkspaceError):  # the table's CHECK
        log.add(fit(1, 1.5))
    with pytest.raises(WorkspaceError):
        log.add(fit(1, 0.8, auc=-0.1))
    assert log.last_id() == 0
