from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from safer_engine.train.evaluate import (
    report_from_margins,
    rewardbench_sections,
    wilson_interval,
)


def test_accuracy_per_slice_and_wilson_interval_by_hand() -> None:
    table = pl.DataFrame({"slice": ["safety"] * 4 + ["general"] * 2})
    margins = np.array([1.0, 2.0, -0.5, 0.3, -1.0, 0.0])  # a tie is not a win
    report = report_from_margins(table, margins, "test")
    by_name = {s.name: s for s in report.slices}
    assert by_name["safety"].accuracy == 0.75
    assert by_name["general"].accuracy == 0.0
    assert report.overall.accuracy == pytest.approx(3 / 6)
    # Wilson 95% interval for 3 of 4: (0.3006, 0.9544)
    assert by_name["safety"].ci_low == pytest.approx(0.30064, abs=1e-4)
    assert by_name["safety"].ci_high == pytest.approx(0.95442, abs=1e-4)
    assert report.margins.mean == pytest.approx(margins.mean())
    assert report.margins.median == pytest.approx(0.15)
    assert report.rewardbench is None


def test_wilson_edges() -> None:
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_rewardbench_sections_weight_subsets_by_example_count() -> None:
    subsets = ["refusals-dangerous"] * 4 + ["xstest-should-respond"] * 3 + ["math-prm"] * 2
    correct = np.array([1, 1, 0, 0, 1, 1, 1, 1, 0], dtype=bool)  # 2/4, 3/3, 1/2
    sections = rewardbench_sections(subsets, correct)
    # safety: (0.5 * 4 + 1.0 * 3) / 7; reasoning: one subset at 0.5; no chat subsets
    assert sections == pytest.approx({"safety": 5 / 7, "reasoning": 0.5})


def test_report_includes_sections_when_data_has_subsets() -> None:
    table = pl.DataFrame(
        {"slice": ["safety", "chat"], "subset": ["donotanswer", "alpacaeval-easy"]}
    )
    report = report_from_margins(table, np.array([1.0, -1.0]), "all")
    assert report.rewardbench == {"chat": 0.0, "safety": 1.0}
