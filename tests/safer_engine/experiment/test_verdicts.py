"""Verdicts: SAFER against the random edit of its size, paired by seed and test pair, per
recipe; two recipes agree where their intervals fall on the same side of 0."""

from __future__ import annotations

import numpy as np
import polars as pl

from safer_engine.experiment.report import RunOutcome
from safer_engine.experiment.verdicts import classify, side_by_side, verdicts

IDS = [f"p{i:02d}" for i in range(40)]


def outcome(recipe: str, method: str, seed: int, correct: np.ndarray) -> RunOutcome:
    table = pl.DataFrame({"pair_id": IDS, "slice": ["safety"] * 40, "correct": correct})
    return RunOutcome(method, 0.0 if method == "clean" else 5.0, seed, table, {}, recipe)


def test_a_proxy_that_sees_an_effect_the_real_retrain_does_not_disagrees() -> None:
    rng = np.random.default_rng(0)
    outcomes = []
    for seed in range(3):
        clean = rng.random(40) < 0.9
        hurt = clean.copy()
        hurt[:12] = False
        for recipe, safer in (("fast", hurt), ("full", clean)):
            outcomes += [
                outcome(recipe, "clean", seed, clean),
                outcome(recipe, "safer-poison", seed, safer),
                outcome(recipe, "random-flip", seed, clean),
            ]
    found = verdicts(outcomes)
    fast = found.filter(pl.col("recipe") == "fast").row(0, named=True)
    full = found.filter(pl.col("recipe") == "full").row(0, named=True)
    assert fast["difference"] < 0 and fast["high"] < 0 and fast["class"] == "lower"
    assert full["difference"] == 0 and full["class"] == "no clear difference"
    (row,) = side_by_side(found).iter_rows(named=True)
    assert not row["agree"] and row["full"].endswith("no clear difference")
    assert row["fast"].endswith(": lower")
    same = verdicts(
        [o for o in outcomes if o.recipe == "fast"]
        + [
            RunOutcome(o.method, o.ratio, o.seed, o.correct, o.edited, "full")
            for o in outcomes
            if o.recipe == "fast"
        ]
    )
    assert side_by_side(same)["agree"].to_list() == [True]


def test_classes() -> None:
    assert classify(-0.1, -0.01) == "lower" and classify(0.01, 0.2) == "higher"
    assert classify(-0.01, 0.02) == "no clear difference"
