from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from safer_engine.cli import main
from tests.safer_engine.cli import run_cli


def test_score_pairs_writes_scores_and_selection_and_says_where_they_came_from(
    encoded_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(encoded_workspace)
    assert main(["score-pairs", "--workspace", ws, "--top", "4", "--show", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Safety features from salience" in printed and "nobody has said" in printed
    assert "Pair scores by slice" in printed and "Highest scores" in printed
    scores = next(encoded_workspace.glob("sae/*/scores/pair_scores.parquet"))
    selection = json.loads((scores.parent / "selection.json").read_text())
    assert selection["source"] == "salience" and len(selection["features"]) == 4
    assert pl.read_parquet(scores).height == 20
    assert main(["score-pairs", "--workspace", ws, "--top", "4"]) == 0
    assert "unchanged in" in capsys.readouterr().out


def test_bad_selection_settings_are_one_message() -> None:
    result = run_cli("score-pairs", "--workspace", "/nonexistent", "--top", "0")
    assert result.returncode == 2 and "--top must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_select_effect_needs_attributions_then_ranks_by_them(
    synthetic_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.attribution.files import read_effects
    from safer_engine.testing.synthetic_attribution import write_synthetic_attribution

    ws = str(synthetic_workspace)
    result = run_cli("score-pairs", "--workspace", ws, "--select", "effect")
    assert result.returncode != 0 and "safer attribute" in result.stderr
    assert "Traceback" not in result.stderr
    folder = write_synthetic_attribution(synthetic_workspace, seed=1)
    assert main(["score-pairs", "--workspace", ws, "--select", "effect", "--top", "3"]) == 0
    printed = capsys.readouterr().out
    assert "Safety features from effect" in printed and "|effect|" in printed
    selection = json.loads(
        next(synthetic_workspace.glob("sae/*/scores/selection.json")).read_text()
    )
    effects = read_effects(folder.parent).sort(pl.col("effect_train").abs(), descending=True)
    assert [f["feature"] for f in selection["features"]] == effects["feature"].to_list()[:3]
