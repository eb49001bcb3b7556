"""Each method's ranking on hand-made inputs: cleanlab flags the pairs whose probabilities
contradict their labels and scores every pair by P(given label); the folds and the random
draw are seeded and independent of the flips."""

from __future__ import annotations

import numpy as np
import pytest

from safer_engine.benchmark.metrics import top_k
from safer_engine.benchmark.rankings import (
    cleanlab_issues,
    cleanlab_quality,
    folds_of,
    random_suspicion,
    sigmoid,
)
from safer_engine.errors import BenchmarkError


def test_cleanlab_finds_the_pairs_its_probabilities_contradict() -> None:
    # 20 pairs the models agree with, and three (5, 11, 17) they think are reversed
    p = np.linspace(0.7, 0.97, 20)
    p[[5, 11, 17]] = [0.1, 0.2, 0.05]
    quality, issues = cleanlab_quality(p)
    assert quality == pytest.approx(p)  # self-confidence: P(the given label)
    assert np.flatnonzero(issues).tolist() == [5, 11, 17]
    assert top_k(-quality, 3).tolist() == [17, 5, 11]  # least confident first


def test_cleanlab_flags_nothing_when_the_models_agree_with_every_label() -> None:
    quality, issues = cleanlab_quality(np.linspace(0.6, 0.9, 10))
    assert not issues.any() and quality.argmin() == 0


def test_cleanlab_bad_input() -> None:
    with pytest.raises(BenchmarkError, match="both classes") as caught:
        cleanlab_issues(np.ones(4, dtype=int), np.tile([0.2, 0.8], (4, 1)))
    assert caught.value.hint
    with pytest.raises(BenchmarkError, match="all on one side"):
        cleanlab_quality(np.full(6, 0.5))
    with pytest.raises(BenchmarkError, match="between 0 and 1"):
        cleanlab_quality(np.array([0.2, np.nan, 0.9]))
    with pytest.raises(BenchmarkError, match="at least two"):
        cleanlab_quality(np.array([0.4]))


def test_folds_and_random_are_seeded() -> None:
    fold = folds_of(10, 3, seed=0)
    assert sorted(np.bincount(fold).tolist()) == [3, 3, 4]
    assert (folds_of(10, 3, 0) == fold).all() and not (folds_of(10, 3, 1) == fold).all()
    assert (random_suspicion(5, 0) == random_suspicion(5, 0)).all()
    assert not (random_suspicion(5, 0) == random_suspicion(5, 1)).all()
    with pytest.raises(BenchmarkError, match="folds"):
        folds_of(2, 3, 0)
    assert sigmoid(np.array([0.0]))[0] == 0.5


def test_a_missing_cleanlab_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from safer_engine.benchmark.rankings import require_cleanlab

    monkeypatch.setitem(sys.modules, "cleanlab", None)  # `import cleanlab` now fails
    with pytest.raises(BenchmarkError, match="needs the cleanlab package") as caught:
        require_cleanlab()
    assert "--methods" in caught.value.hint
