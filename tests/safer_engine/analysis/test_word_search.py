"""Features that fire on a word, checked against a plain loop over the stored tokens."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest

from safer_engine.analysis.word_search import features_on_word, matching_pieces
from safer_engine.artifacts import CODES_FILE
from safer_engine.errors import AnalysisError, Cancelled
from safer_engine.progress import CancelToken
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace


def test_matching_pieces_exact_and_prefix() -> None:
    pieces = [" Sorry", "sorry", "##sorry", " sorrow", " so", "Sorry!"]
    assert matching_pieces(pieces, "SORRY").tolist() == [0, 1, 2]
    assert matching_pieces(pieces, "sorr*").tolist() == [0, 1, 2, 3, 5]
    assert matching_pieces(pieces, "so sorrow").tolist() == [3, 4]
    with pytest.raises(AnalysisError):
        matching_pieces(pieces, "  ")


def brute_force_lift(store: StoreReader, idx: np.ndarray, val: np.ndarray, word_ids: set[int]):  # type: ignore[no-untyped-def]
    n_latents = int(idx.max()) + 1
    all_sum, hit_sum, hits = np.zeros(n_latents), np.zeros(n_latents), 0
    for row in range(idx.shape[0]):
        token = int(store.token_ids[int(store.token_row[row])])
        for j, v in zip(idx[row], val[row], strict=True):
            all_sum[j] += float(v)
            if token in word_ids:
                hit_sum[j] += float(v)
        hits += token in word_ids
    return hit_sum / hits - all_sum / idx.shape[0], hits


def arrays(store: StoreReader) -> tuple[list[str], np.ndarray, np.ndarray]:
    return store.pieces, np.asarray(store.token_ids), np.asarray(store.token_row)


def test_lift_matches_a_loop_over_tokens(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae = workspace.sae_dir(workspace.sae_ids()[-1])
    with StoreReader(workspace.store_path) as store, h5py.File(sae / CODES_FILE) as f:
        idx, val = f["codes_idx"][()], f["codes_val"][()]
        n_latents = int(f.attrs["n_latents"])
        tokens = [int(store.token_ids[int(r)]) for r in store.token_row]
        piece = store.pieces[Counter(tokens).most_common(1)[0][0]].strip()
        seen: list[int] = []
        found = features_on_word(
            *arrays(store),
            idx,
            val,
            n_latents,
            piece,
            progress=lambda _t, done, _n: seen.append(done),
        )
        word_ids = {i for i, p in enumerate(store.pieces) if p.strip().lower() == piece.lower()}
        expected, hits = brute_force_lift(store, idx, val, word_ids)
    assert found.hits == hits > 0
    assert seen[-1] == idx.shape[0]
    assert len(found.features) > 0
    assert (np.diff(found.lift) <= 1e-12).all()
    np.testing.assert_allclose(found.lift, expected[found.features], rtol=1e-5, atol=1e-6)
    best = int(np.argmax(expected))
    assert found.features[0] == best


def test_no_hits_and_cancel(encoded_workspace: Path) -> None:
    workspace = Workspace.open(encoded_workspace)
    sae = workspace.sae_dir(workspace.sae_ids()[-1])
    with StoreReader(workspace.store_path) as store, h5py.File(sae / CODES_FILE) as f:
        idx, val = f["codes_idx"][()], f["codes_val"][()]
        none = features_on_word(*arrays(store), idx, val, int(f.attrs["n_latents"]), "zqxjkv")
        assert none.hits == 0 and len(none.features) == 0 and none.pieces == []
        token = CancelToken()
        token.cancel()
        with pytest.raises(Cancelled):
            features_on_word(
                *arrays(store), idx, val, int(f.attrs["n_latents"]), "the", cancel=token
            )
