"""A feature's examples read through the CSR index."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.workspace import Workspace


def sae_id(root: Path) -> str:
    return Workspace.open(root).sae_ids()[-1]


def test_examples_carry_the_features_activation_on_each_token(encoded_workspace: Path) -> None:
    import h5py
    import numpy as np

    from safer_engine.codes.examples import FeatureExamples

    workspace = Workspace.open(encoded_workspace)
    sae = workspace.sae_dir(sae_id(encoded_workspace))
    examples = FeatureExamples(workspace.store_path, sae)
    try:
        with h5py.File(sae / "codes.h5") as f:
            feature = int(np.bincount(f["codes_idx"][()].ravel()).argmax())
        found = examples.examples(feature)
        assert found
        best = found[0]
        assert best.quantile == 1.0
        assert max(e.activation for e in found) == best.activation
        for example in found:  # the token drawn is one span, carrying its activation
            (focus,) = [span for span in example.spans if span.focus]
            assert focus.value == pytest.approx(example.activation, rel=1e-3)
            assert focus.part == "response" and focus.text.strip()
            assert examples.store.tok_start[example.doc] <= example.token
    finally:
        examples.close()


def test_side_codes_mark_chosen_rejected_both_and_unpaired() -> None:
    import numpy as np

    from safer_engine.codes.examples import SIDES, side_codes

    # pairs (0 > 1), (0 > 2), (2 > 1); doc 3 is in no pair
    codes = side_codes(np.array([0, 0, 2]), np.array([1, 2, 1]), 4)
    assert [SIDES[c] for c in codes] == ["chosen", "rejected", "both", "none"]


def test_sides_agree_with_the_pairs_on_the_workspace(encoded_workspace: Path) -> None:
    from safer_engine.codes.examples import FeatureExamples

    workspace = Workspace.open(encoded_workspace)
    examples = FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id(encoded_workspace)))
    try:
        store = examples.store
        chosen, rejected = set(store.chosen_doc.tolist()), set(store.rejected_doc.tolist())
        expected = {
            (True, False): "chosen",
            (False, True): "rejected",
            (True, True): "both",
            (False, False): "none",
        }
        sides = [examples.side(d) for d in range(store.n_docs)]
        assert sides == [expected[(d in chosen, d in rejected)] for d in range(store.n_docs)]
        assert {"chosen", "rejected"} <= set(sides)
    finally:
        examples.close()


def test_pair_ids_and_texts_for_the_pairs_screen(encoded_workspace: Path) -> None:
    from safer_engine.codes.examples import FeatureExamples
    from safer_engine.store.text import plain_text

    workspace = Workspace.open(encoded_workspace)
    examples = FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id(encoded_workspace)))
    try:
        store = examples.store
        assert [examples.pair_id(p) for p in range(store.n_pairs)] == store.pair_ids()
        first = int(store.chosen_doc[0])
        prompt = plain_text(examples.prompt(first))
        assert prompt == store.doc_prompt(first) != ""  # the data's own prompt, whole
        response = examples.response_shading(first, [1], [2])
        assert plain_text(response) == store.doc_response(first)
    finally:
        examples.close()
