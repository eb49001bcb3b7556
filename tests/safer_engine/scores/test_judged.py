"""Judge scores and explanation fits as selection reads them: `--min-fit` keeps only the
judged features whose explanation fits them, and leaves tags and old records alone."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import SelectionConfig
from safer_engine.errors import ConfigError
from safer_engine.labels import Fit, FitLog, Judgement, JudgementLog, LabelStore
from safer_engine.scores.judged import judge_fits, judge_scores
from safer_engine.scores.selection import select_features
from safer_engine.scores.stage import current_selection, score_pairs
from safer_engine.workspace import Workspace

SALIENCE = pl.DataFrame({"feature": [0, 1, 2, 3], "salience": [0.9, -0.8, 0.7, -0.6]})


def test_min_fit_keeps_the_judged_features_whose_explanation_fits() -> None:
    judged = {0: 5, 1: 5, 2: 5, 3: 4}
    fits = {0: 0.9, 1: 0.6, 3: 0.95}  # 2 was never scored
    config = SelectionConfig(select="judge", min_fit=0.7)
    selection = select_features(SALIENCE, {}, judged, config, fits=fits)
    assert [f.feature for f in selection.features] == [0]  # 3 scored 4 < the threshold
    no_minimum = select_features(SALIENCE, {}, judged, SelectionConfig(select="judge"), fits=fits)
    assert [f.feature for f in no_minimum.features] == [0, 1, 2]
    # auto falls back to salience when no judged feature fits well enough
    auto = select_features(SALIENCE, {}, judged, SelectionConfig(min_fit=0.99), fits=fits)
    assert auto.source == "salience"


def test_min_fit_is_a_balanced_accuracy_and_absent_from_old_records() -> None:
    with pytest.raises(ConfigError, match="--min-fit is a balanced accuracy"):
        SelectionConfig(min_fit=1.5)
    assert "min_fit" not in SelectionConfig().to_dict()  # fingerprints made before it hold
    assert SelectionConfig(min_fit=0.7).to_dict()["min_fit"] == 0.7
    assert SelectionConfig.from_dict(SelectionConfig(min_fit=0.7).to_dict()).min_fit == 0.7


def store_judged(ws: Workspace, sae_id: str, fits: dict[int, float | None]) -> None:
    """Feature → fit (None: a failed scoring), each judged 5 with its own explanation."""
    with LabelStore.open(ws.labels_path) as store:
        for feature, accuracy in fits.items():
            explanation = f"pattern {feature}"
            JudgementLog(store).add(
                Judgement(sae_id, feature, "j", "openai", "m", None, 5, explanation, None, None, "")
            )
            failure = None if accuracy is not None else "HTTP 500"
            FitLog(store).add(
                Fit(
                    sae_id,
                    feature,
                    "detection",
                    "f",
                    "openai",
                    "m",
                    None,
                    explanation,
                    accuracy,
                    None,
                    10,
                    10,
                    0,
                    failure,
                    None if failure is None else "request",
                )
            )


def test_the_score_stage_reads_the_fits_when_a_minimum_is_asked(
    synthetic_workspace: Path,
) -> None:
    ws = Workspace.open(synthetic_workspace)
    sae_id = ws.sae_ids()[-1]
    table = pl.read_parquet(ws.sae_dir(sae_id) / "salience.parquet")
    top = table.sort("abs_salience", descending=True, maintain_order=True)["feature"][:3]
    a, b, c = (int(f) for f in top)
    store_judged(ws, sae_id, {a: 0.9, b: 0.55, c: None})
    assert judge_fits(ws, sae_id) == {a: 0.9, b: 0.55}
    scores = judge_scores(ws, sae_id)
    config = SelectionConfig(select="judge", min_fit=0.7)
    assert [f.feature for f in current_selection(ws, sae_id, config, scores).features] == [a]
    plain = current_selection(ws, sae_id, SelectionConfig(select="judge"), scores)
    assert {f.feature for f in plain.features} == {a, b, c}
    result = score_pairs(ws, sae_id, config, scores)
    saved = json.loads((ws.sae_dir(sae_id) / "scores" / "selection.json").read_text())
    assert saved["config"][
        "min_fit"
    ] == 0.7 and result.selection.safe + result.selection.unsafe == [a]
