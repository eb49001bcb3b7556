"""A feature's examples read through the CSR index."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.workspace import Workspace


def sae_id(root: Path) -> str:
    return str(Workspace.open(root).stage("encode")["id"])  # type: ignore[index]


def test_examples_carry_the_features_activation_on_each_token(encoded_workspace: Path) -> None:
    import h5py
    import numpy as np

    from safer_engine.sae.examples import FeatureExamples

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
        assert best.activations[best.focus] == pytest.approx(best.activation, rel=1e-3)
        assert max(e.activation for e in found) == best.activation
        assert all(len(e.pieces) == len(e.activations) == len(e.in_response) for e in found)
    finally:
        examples.close()
