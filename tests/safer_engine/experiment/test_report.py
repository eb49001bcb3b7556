"""The experiment report: changes against clean are paired by seed and test pair, with
bootstrap intervals; the markdown and the plot are written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safer_engine.experiment.report import RunOutcome, markdown, summarise, write_report

IDS = [f"p{i:02d}" for i in range(40)]
SLICES = ["safety"] * 30 + ["general"] * 10


def outcome(method: str, ratio: float, seed: int, correct: list[bool]) -> RunOutcome:
    table = pl.DataFrame({"pair_id": IDS, "slice": SLICES, "correct": correct})
    return RunOutcome(method, ratio, seed, table.reverse(), {"safety": int(ratio), "general": 1})


def test_changes_are_paired_against_the_clean_run_of_each_seed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    outcomes = []
    for seed in range(3):
        clean = rng.random(40) < 0.9
        worse = clean.copy()
        worse[: 6 + seed] = False  # safety pairs only
        outcomes += [
            outcome("clean", 0, seed, clean.tolist()),
            outcome("safer-poison", 5, seed, worse.tolist()),
            outcome("random-flip", 5, seed, clean.tolist()),
        ]
    summary = summarise(outcomes)
    poison = summary.filter((pl.col("method") == "safer-poison") & (pl.col("slice") == "safety"))
    row = poison.row(0, named=True)
    expected = np.mean(
        [
            np.mean(np.array(w.correct.sort("pair_id")["correct"][:30], float))
            - np.mean(np.array(c.correct.sort("pair_id")["correct"][:30], float))
            for w, c in zip(outcomes[1::3], outcomes[0::3], strict=True)
        ]
    )
    assert row["change"] == pytest.approx(expected) and row["change"] < 0
    assert row["change_low"] <= row["change"] <= row["change_high"] < 0
    assert row["runs"] == 3 and row["edited"] == 6 and row["edited_in_slice"] == 5
    random = summary.filter((pl.col("method") == "random-flip") & (pl.col("slice") == "safety"))
    assert random["change"][0] == 0 and random["change_low"][0] == random["change_high"][0] == 0
    general = summary.filter((pl.col("method") == "safer-poison") & (pl.col("slice") == "general"))
    assert general["change"][0] == 0
    text = markdown(summary, "Demo", ["command: safer experiment"])
    assert "## fast recipe, safety slice (30 test pairs)" in text
    assert "| fast | SAFER poisoning | 5% |" in text
    report = write_report(summary, tmp_path / "exp", "Demo", ["notes"])
    assert report.read_text().endswith("![accuracy by ratio](report.png)\n")
    assert (tmp_path / "exp" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pl.read_parquet(tmp_path / "exp" / "summary.parquet").equals(summary)


def test_a_summary_needs_clean_runs() -> None:
    with pytest.raises(ValueError, match="clean runs"):
        summarise([outcome("safer-poison", 5, 0, [True] * 40)])
