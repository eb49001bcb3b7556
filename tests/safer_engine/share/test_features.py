from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
import pytest

from safer_engine.errors import WorkspaceError
from safer_engine.labels import Judgement
from safer_engine.share.features import analysed_sae, feature_facts, judge_fit
from safer_engine.workspace import Workspace
from tests.audit_workspace import JUDGE_MODEL, annotate


def test_each_features_figures_labels_judgement_and_effect_in_one_row(
    synthetic_workspace: Path,
) -> None:
    notes = annotate(synthetic_workspace)
    workspace = Workspace.open(synthetic_workspace)
    asked = [notes.safe, notes.unsafe, notes.top[-1]]
    facts = feature_facts(workspace, notes.sae_id, asked)
    assert [f.feature for f in facts] == asked
    safe, unsafe, last = facts
    table = pl.read_parquet(workspace.sae_dir(notes.sae_id) / "salience.parquet")
    row = table.filter(pl.col("feature") == notes.unsafe).row(0, named=True)
    assert (unsafe.rank, unsafe.salience, unsafe.leans) == (
        row["rank"],
        row["salience"],
        "rejected",
    )
    assert (unsafe.tag, unsafe.tag_by_judge, unsafe.tag_author) == ("unsafe", False, "alice")
    assert unsafe.note == "fires on <harmful> requests & answers"
    assert unsafe.judgement is not None and unsafe.judgement.model == JUDGE_MODEL
    assert (unsafe.judge_score, safe.judge_score, last.judge_score) == (5, 2, None)
    assert unsafe.effect is not None
    assert (unsafe.effect.train, unsafe.effect.test) == notes.effects[notes.unsafe][:2]
    assert last.effect is None and last.tag is None and last.fit is None
    assert len(feature_facts(workspace, notes.sae_id)) == 64


def test_the_judges_fit_is_read_where_a_judgement_carries_one() -> None:
    plain = Judgement("s", 1, "h", "openai", "m", None, 4, "why", None, None, "")
    assert judge_fit(plain) is None and judge_fit(None) is None

    @dataclass(frozen=True)
    class Scored(Judgement):
        fit: float | None = None

    assert judge_fit(Scored(**{**plain.__dict__, "fit": 0.75})) == 0.75
    assert judge_fit(replace(Scored(**plain.__dict__), fit=None)) is None


def test_unknown_features_and_saes_are_named(synthetic_workspace: Path) -> None:
    workspace = Workspace.open(synthetic_workspace)
    sae_id = analysed_sae(workspace, None)
    assert sae_id == "synthetic-topk4-64" == analysed_sae(workspace, sae_id)
    with pytest.raises(WorkspaceError, match="no feature"):
        feature_facts(workspace, sae_id, [3, 64])
    with pytest.raises(WorkspaceError, match=r"SAE other .* no salience table yet"):
        analysed_sae(workspace, "other")
