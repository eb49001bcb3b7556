from __future__ import annotations

import ast
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def test_rewardbench_sections_weight_subsets_by_fixed_example_counts() -> None:
    subsets = ["refusals-dangerous"] * 4 + ["xstest-should-respond"] * 3 + ["math-prm"] * 2
    subsets += ["hep-go"] * 5
    correct = np.array([1, 1, 0, 0] + [1, 1, 1] + [1, 1] + [0] * 5, dtype=bool)
    sections = rewardbench_sections(subsets, correct)
    # safety: 0.5 weighted 100 and 1.0 weighted 250, whatever rows are present;
    # reasoning: math-prm (1.0) counts 984, hep-go (0.0) 164. No chat: no overall.
    assert sections == pytest.approx(
        {"safety": (0.5 * 100 + 1.0 * 250) / 350, "reasoning": 984 / (984 + 164)}
    )


def test_rewardbench_overall_is_the_mean_of_the_four_sections() -> None:
    subsets = ["alpacaeval-easy", "mt-bench-hard", "donotanswer", "hep-rust", "hep-cpp"]
    correct = np.array([1, 0, 1, 1, 0], dtype=bool)
    sections = rewardbench_sections(subsets, correct)
    assert sections == pytest.approx(
        {"chat": 1.0, "chat-hard": 0.0, "safety": 1.0, "reasoning": 0.5, "overall": 2.5 / 4}
    )


def test_vendored_constants_cover_every_section_subset() -> None:
    from safer_engine.data.rewardbench import EXAMPLE_COUNTS, PACKAGE_SECTION_NAMES, SECTIONS

    assert sorted(s for subs in SECTIONS.values() for s in subs) == sorted(EXAMPLE_COUNTS)
    assert set(PACKAGE_SECTION_NAMES) == set(SECTIONS)
    # the package's weighting of the reasoning section: math as much as the code subsets
    assert EXAMPLE_COUNTS["math-prm"] == sum(EXAMPLE_COUNTS[f"hep-{x}"] for x in CODE_LANGUAGES)


CODE_LANGUAGES = ("cpp", "go", "java", "js", "python", "rust")


def _rewardbench_package() -> tuple[dict[str, Any], Callable[..., dict[str, float]]]:
    """The installed `rewardbench` package's constants and `calculate_scores_per_section`,
    read from its files: importing the package runs its `__init__`, which needs its whole
    GPU stack (fastchat, bitsandbytes, transformers 4.51), none of which scoring uses."""
    folder = Path(os.environ.get("SAFER_REWARDBENCH", "/nonexistent"))
    if not (folder / "constants.py").is_file():  # `make test` sets it; else an installed copy
        spec = importlib.util.find_spec("rewardbench")
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("the rewardbench package is not installed (`make test` installs it)")
        folder = Path(next(iter(spec.submodule_search_locations)))
    constants: dict[str, Any] = {}
    exec(compile((folder / "constants.py").read_text(), "constants.py", "exec"), constants)
    utils = ast.parse((folder / "utils.py").read_text())
    [function] = [
        node
        for node in utils.body
        if isinstance(node, ast.FunctionDef) and node.name == "calculate_scores_per_section"
    ]
    namespace: dict[str, Any] = {}
    module = ast.Module(body=[function], type_ignores=[])
    exec(compile(module, "utils.py", "exec"), namespace)
    return constants, namespace["calculate_scores_per_section"]


def test_constants_and_scores_match_the_rewardbench_package() -> None:
    from safer_engine.data.rewardbench import EXAMPLE_COUNTS, PACKAGE_SECTION_NAMES, SECTIONS

    constants, calculate_scores_per_section = _rewardbench_package()
    assert constants["EXAMPLE_COUNTS"] == EXAMPLE_COUNTS
    assert constants["SUBSET_MAPPING"] == {
        PACKAGE_SECTION_NAMES[section]: list(subsets) for section, subsets in SECTIONS.items()
    }
    rng = np.random.default_rng(0)
    for _ in range(20):
        # per-example results on a random share of each subset's rows, as `rewardbench` reads
        subsets = [name for name in EXAMPLE_COUNTS for _ in range(int(rng.integers(1, 40)))]
        correct = rng.random(len(subsets)) < rng.random()
        results = pl.DataFrame({"subset": subsets, "correct": correct})
        grouped = {  # what rewardbench's run_rm builds before scoring
            row["subset"]: row["wins"] / row["rows"]
            for row in results.group_by("subset")
            .agg(pl.col("correct").sum().alias("wins"), pl.len().alias("rows"))
            .iter_rows(named=True)
        }
        expected = calculate_scores_per_section(
            constants["EXAMPLE_COUNTS"], constants["SUBSET_MAPPING"], grouped
        )
        ours = rewardbench_sections(subsets, correct)
        assert {PACKAGE_SECTION_NAMES[s]: ours[s] for s in SECTIONS} == expected
        assert ours["overall"] == pytest.approx(sum(expected.values()) / 4, abs=1e-15)


def test_report_includes_sections_when_data_has_subsets() -> None:
    table = pl.DataFrame(
        {"slice": ["safety", "chat"], "subset": ["donotanswer", "alpacaeval-easy"]}
    )
    report = report_from_margins(table, np.array([1.0, -1.0]), "all")
    assert report.rewardbench == {"chat": 0.0, "safety": 1.0}


def test_overall_score_is_saved_in_eval_json(tmp_path: Path) -> None:
    from safer_engine.train.evaluate import EvalReport

    subsets = ["alpacaeval-hard", "llmbar-natural", "refusals-offensive", "math-prm"]
    table = pl.DataFrame({"slice": ["chat", "chat-hard", "safety", "reasoning"], "subset": subsets})
    report = report_from_margins(table, np.array([1.0, 1.0, -1.0, 1.0]), "all")
    assert report.rewardbench is not None and report.rewardbench["overall"] == 0.75
    report.save(tmp_path / "eval.json")
    assert EvalReport.load(tmp_path / "eval.json").rewardbench == report.rewardbench
