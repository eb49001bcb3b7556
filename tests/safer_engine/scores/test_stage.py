"""Pair scores equal a hand computation on a tiny store, are reused while the selection is
unchanged, and are redone when a tag changes it."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import polars as pl
import pytest

from safer_engine.artifacts import CODES_FILE, SELECTION_FILE
from safer_engine.config import SelectionConfig
from safer_engine.labels import LabelStore
from safer_engine.scores.selection import Selection
from safer_engine.scores.stage import score_pairs, scores_dir
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace


def by_hand(workspace: Workspace, sae_id: str, signs: dict[int, float]) -> list[float]:
    """score(pair) with plain loops over every stored row and code."""
    with (
        StoreReader(workspace.store_path) as store,
        h5py.File(workspace.sae_dir(sae_id) / CODES_FILE) as f,
    ):
        idx, val = f["codes_idx"][()], f["codes_val"][()].astype(np.float64)
        totals = [0.0] * store.n_docs
        counts = [0] * store.n_docs
        for row in range(idx.shape[0]):
            if not store.selected[row]:
                continue
            doc = int(store.row_doc[row])
            counts[doc] += 1
            for j, v in zip(idx[row].tolist(), val[row].tolist(), strict=True):
                totals[doc] += signs.get(j, 0.0) * v
        s = [t / c if c else 0.0 for t, c in zip(totals, counts, strict=True)]
        return [
            s[int(c)] - s[int(r)] for c, r in zip(store.chosen_doc, store.rejected_doc, strict=True)
        ]


def test_scores_equal_a_hand_computation_and_are_reused(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id = workspace.sae_ids()[-1]
    config = SelectionConfig(top=6)
    first = score_pairs(workspace, sae_id, config, {})
    assert not first.reused and first.selection.source == "salience"
    signs = dict(zip(first.selection.safe, [1.0] * 6, strict=False))
    signs |= dict(zip(first.selection.unsafe, [-1.0] * 6, strict=False))
    table = first.table
    np.testing.assert_allclose(table["score"], by_hand(workspace, sae_id, signs), atol=1e-9)
    np.testing.assert_allclose(table["score"], table["s_chosen"] - table["s_rejected"])
    assert sorted(table["rank"]) == list(range(1, table.height + 1))
    assert table.sort("rank")["score"].is_sorted(descending=True)
    shares = table.select(pl.col("share_1").abs() >= pl.col("share_2").abs()).to_series()
    assert shares.all()
    assert set(table["feature_1"]) <= set(signs)
    saved = Selection.load(scores_dir(workspace, sae_id) / SELECTION_FILE)
    assert saved == first.selection
    again = score_pairs(workspace, sae_id, config, {})
    assert again.reused and again.table.equals(table)


def test_a_tag_changes_the_selection_and_the_scores(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id = workspace.sae_ids()[-1]
    before = score_pairs(workspace, sae_id, SelectionConfig(), {})
    feature = before.selection.features[0].feature
    side = "unsafe" if before.selection.features[0].side == "safe" else "safe"
    with LabelStore.open(workspace.labels_path, author="alice") as labels:
        labels.tag(sae_id, feature, side)
    after = score_pairs(workspace, sae_id, SelectionConfig(), {})
    assert not after.reused
    assert after.selection.source == "tags"
    assert [f.feature for f in after.selection.features] == [feature]
    assert after.selection.features[0].disagrees
    expected = by_hand(workspace, sae_id, {feature: 1.0 if side == "safe" else -1.0})
    np.testing.assert_allclose(after.table["score"], expected, atol=1e-9)


def test_no_salience_table_is_a_clear_error(trained_workspace: Path) -> None:
    from safer_engine.errors import WorkspaceError

    workspace = Workspace.open(trained_workspace)
    with pytest.raises(WorkspaceError, match="no salience table"):
        score_pairs(workspace, "missing", SelectionConfig(), {})
