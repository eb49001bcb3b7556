"""The decomposition of a reward gradient among an SAE's features, its error and the rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from safer_engine.attribution.decompose import decompose, standardised


def tiny_sae(d_in: int = 16, d_sae: int = 32, k: int = 4) -> Any:
    from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

    torch.manual_seed(0)
    sae = TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=k, dtype="float32", device="cpu"))
    with torch.no_grad():  # a decoder bias, so the rest term is not zero
        sae.b_dec.copy_(torch.randn(d_in) * 0.1)
    return sae


@pytest.mark.parametrize("normalise", [True, False])
def test_a_linear_probe_reward_is_decomposed_exactly(normalise: bool) -> None:
    """r = Σ_t w·h_t: its gradient is w everywhere, and each term is what the SAE's parts of
    h contribute to r exactly."""
    sae = tiny_sae()
    torch.manual_seed(1)
    hidden = torch.randn(10, 16) * 3 + 1
    probe = torch.randn(16)
    text = torch.tensor([0] * 6 + [1] * 4)
    got = decompose(sae, hidden, probe.expand(10, 16), text, 2, normalise)

    with torch.no_grad():
        check_terms(sae, hidden, probe, got, normalise)


def check_terms(
    sae: Any, hidden: torch.Tensor, probe: torch.Tensor, got: Any, normalise: bool
) -> None:
    u, scale = standardised(hidden, normalise)
    z = sae.encode(u)
    mean = hidden - scale[:, None] * u  # μ_t·1 (zero without standardisation)
    parts = scale[:, None, None] * z[:, :, None] * sae.W_dec[None]  # [t, j, d] in h space
    for i, rows in enumerate((slice(0, 6), slice(6, 10))):
        features = (parts[rows] @ probe).sum(0).double().numpy()
        error = scale[rows, None] * (u[rows] - sae.decode(z[rows]))
        rest = mean[rows] + scale[rows, None] * sae.b_dec
        lo, hi = got.offsets[i], got.offsets[i + 1]
        fired = np.flatnonzero(z[rows].sum(0).numpy())
        assert got.feature[lo:hi].tolist() == fired.tolist()
        np.testing.assert_allclose(got.value[lo:hi], features[fired], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got.error[i], float((error @ probe).sum()), rtol=1e-4)
        np.testing.assert_allclose(got.rest[i], float((rest @ probe).sum()), rtol=1e-4, atol=1e-4)
        reward = float((hidden[rows] @ probe).sum())
        total = got.features_total()[i] + got.error[i] + got.rest[i]
        np.testing.assert_allclose(total, reward, rtol=1e-5, atol=1e-4)


def test_a_text_on_which_nothing_fires_has_no_features() -> None:
    sae = tiny_sae()
    hidden = torch.randn(3, 16)
    got = decompose(sae, hidden, torch.zeros(3, 16), torch.tensor([1, 1, 1]), 2, True)
    assert got.offsets[1] == 0 and got.offsets[2] > 0  # text 0 has no tokens
    assert got.features_total()[0] == 0 and np.all(got.value == 0)
