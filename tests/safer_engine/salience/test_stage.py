"""The salience stage: statistics, index and salience from an SAE's codes, into files of
their own beside the codes; reused while the codes and the split are unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from safer_engine.analysis.feature_stats import feature_stats
from safer_engine.artifacts import CODES_FILE, FEATURES_FILE, SALIENCE_FILE
from safer_engine.codes.reader import CodesReader
from safer_engine.errors import Cancelled
from safer_engine.progress import CancelToken
from safer_engine.sae.stage import encode_stage
from safer_engine.salience.stage import salience_stage, side_weights
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace


def test_statistics_follow_the_split_and_the_codes_stay_untouched(
    encoded_workspace: Path,
) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id = workspace.sae_ids()[-1]
    sae_dir = workspace.sae_dir(sae_id)
    codes_before = (sae_dir / CODES_FILE).read_bytes()
    assert salience_stage(workspace, sae_id, "train") is None  # the fixture ran it
    assert salience_stage(workspace, sae_id, "all") is not None  # another split: redone
    assert (sae_dir / CODES_FILE).read_bytes() == codes_before
    with StoreReader(workspace.store_path) as store, CodesReader(sae_dir) as codes:
        chosen, rejected = side_weights(store, "all")
        assert chosen.sum() == rejected.sum() == store.n_pairs
        expected = feature_stats(
            np.asarray(codes.idx),
            np.asarray(codes.val),
            np.asarray(store.row_doc),
            np.asarray(store.selected),
            chosen,
            rejected,
            codes.n_latents,
        )
        np.testing.assert_allclose(codes.stat("sum_chosen"), expected.sum_chosen)
        assert codes.offsets.shape == (codes.n_latents + 1,)
    table = pl.read_parquet(sae_dir / SALIENCE_FILE)
    assert table.height == codes.n_latents


def test_new_codes_drop_the_old_index_until_salience_runs_again(
    encoded_workspace: Path,
) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae_id = workspace.sae_ids()[-1]
    sae_dir = workspace.sae_dir(sae_id)
    assert encode_stage(workspace, sae_id, force=True) is not None
    assert not (sae_dir / FEATURES_FILE).exists() and not (sae_dir / SALIENCE_FILE).exists()
    assert workspace.stale() == [f"salience/{sae_id}"]
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        salience_stage(workspace, sae_id, cancel=cancel)
    assert not list(sae_dir.glob("*.partial")) and not (sae_dir / FEATURES_FILE).exists()
    assert salience_stage(workspace, sae_id) is not None
    assert workspace.stale() == []


def test_the_table_says_what_its_figures_cover_and_adds_every_token(tmp_path: Path) -> None:
    """On a synthetic workspace (sentence ends selected, every response token stored): the
    all-token columns equal a loop over every stored row and code."""
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    root = build_synthetic_workspace(tmp_path / "ws", 20, 12, 64, 4)
    workspace = Workspace.open(root)
    sae_dir = workspace.sae_dir(workspace.sae_ids()[-1])
    table = pl.read_parquet(sae_dir / SALIENCE_FILE).sort("feature")
    assert set(table["selection"].to_list()) == {"sentence_end"}
    with StoreReader(workspace.store_path) as store, CodesReader(sae_dir) as codes:
        chosen, rejected = side_weights(store, "train")
        sums = {"chosen": np.zeros(64), "rejected": np.zeros(64)}
        fires = {"chosen": np.zeros(64), "rejected": np.zeros(64)}
        tokens = {"chosen": 0.0, "rejected": 0.0}
        selected_tokens = {"chosen": 0.0, "rejected": 0.0}
        idx, val = np.asarray(codes.idx), np.asarray(codes.val).astype(np.float64)
        for row, doc in enumerate(np.asarray(store.row_doc).tolist()):
            for side, weight in (("chosen", chosen[doc]), ("rejected", rejected[doc])):
                tokens[side] += weight
                selected_tokens[side] += weight if store.selected[row] else 0.0
                for feature, value in zip(idx[row].tolist(), val[row].tolist(), strict=True):
                    sums[side][feature] += value * weight
                    fires[side][feature] += weight if value > 0 else 0.0
    for side in ("chosen", "rejected"):
        np.testing.assert_allclose(table[f"sum_{side}_all"].to_numpy(), sums[side])
        np.testing.assert_allclose(
            table[f"fire_rate_{side}_all"].to_numpy(), fires[side] / tokens[side]
        )
        assert table[f"tokens_{side}_all"][0] == pytest.approx(tokens[side])
        assert table[f"tokens_{side}"][0] == pytest.approx(selected_tokens[side])
    assert 0 < selected_tokens["chosen"] < tokens["chosen"]  # sentence ends are a subset


def test_damaged_sae_files_are_rebuilt_and_named_with_one_advice(
    encoded_workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safer_engine.cli import main
    from safer_engine.codes.reader import rebuild_sae_files_hint

    workspace = Workspace.open(encoded_workspace)
    sae_id = workspace.sae_ids()[-1]
    sae_dir = workspace.sae_dir(sae_id)
    advice = rebuild_sae_files_hint(sae_dir)
    assert advice == (
        f"Rebuild them with `safer encode --workspace {workspace.root} --sae {sae_id} --force`."
    )
    for name in (FEATURES_FILE, CODES_FILE):
        path = sae_dir / name
        with path.open("r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
        assert main(["salience", "--workspace", str(encoded_workspace)]) == 2
        printed = capsys.readouterr().err
        assert f"The SAE file {path} is damaged" in printed
        assert printed.rstrip().endswith(advice)
        # plain `safer encode` rebuilds what is damaged; it never says "up to date"
        assert main(["encode", "--workspace", str(encoded_workspace)]) == 0
        printed = capsys.readouterr().out
        assert ("Encoded" in printed) == (name == CODES_FILE)
        assert "Salience of" in printed
        with CodesReader(sae_dir) as codes:
            assert codes.n_rows > 0
