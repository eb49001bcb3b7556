"""A text's reward gradient at the layer split among the SAE's features, its error and the
rest.

Each token's activation h_t is, in the space the SAE reads, u_t = (h_t − μ_t) / s_t when
the store standardises rows (μ_t, s_t: the row's mean and standard deviation + EPS; else
u_t = h_t, s_t = 1), and the SAE writes u_t = Σ_j z_j(t) d_j + b_dec + e_t. So
h_t = μ_t·1 + s_t·(Σ_j z_j(t) d_j + b_dec + e_t), and with g_t = ∂r/∂h_t the first-order
terms of the reward are

    feature j:  Σ_t s_t z_j(t) (d_j · g_t)
    error:      Σ_t s_t (e_t · g_t)
    rest:       Σ_t (μ_t·1 + s_t b_dec) · g_t

which add up to Σ_t h_t · g_t exactly (e_t is defined by the SAE's linear decoder,
W_dec and b_dec, so its term needs no reconstruction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from safer_engine.store.reader import EPS

if TYPE_CHECKING:
    import torch

TOKEN_CHUNK = 2048
"""Tokens encoded at once: the dense [tokens, SAE width] codes stay a few hundred MB even
for wide SAEs."""
GATHERED = 1 << 22
"""Decoder rows × width gathered at once to dot with the gradient (16 MB of float32)."""


@dataclass(frozen=True)
class TextAttributions:
    """The decomposition of a set of texts, features kept sparse (the ones that fire).

    Text i's features are `feature[offsets[i]:offsets[i+1]]` with their `value`s."""

    error: np.ndarray  # float64 [texts]
    rest: np.ndarray  # float64 [texts]
    offsets: np.ndarray  # int64 [texts + 1]
    feature: np.ndarray  # int32 [entries]
    value: np.ndarray  # float32 [entries]

    def features_total(self) -> np.ndarray:
        """Each text's features' attributions summed."""
        sums = np.add.reduceat(self.value.astype(np.float64), self.offsets[:-1])
        empty = self.offsets[1:] == self.offsets[:-1]
        return np.where(empty, 0.0, sums) if len(sums) else sums


def standardised(rows: torch.Tensor, normalise: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """What the SAE reads for each row, and the row's scale s_t (h_t − μ_t = s_t · u_t)."""
    if not normalise:
        return rows, rows.new_ones(rows.shape[0])
    mean = rows.mean(dim=-1, keepdim=True)
    scale = rows.std(dim=-1, correction=0, keepdim=True) + EPS
    return (rows - mean) / scale, scale[:, 0]


def decompose(
    sae: Any,
    hidden: torch.Tensor,
    gradient: torch.Tensor,
    text: torch.Tensor,
    n_texts: int,
    normalise: bool,
) -> TextAttributions:
    """Attribute `n_texts` texts' rewards: `hidden` and `gradient` are their tokens' rows
    [tokens, d_model] and `text` says whose each row is (0 … n_texts − 1)."""
    import torch

    width = int(sae.cfg.d_sae)
    features = torch.zeros(n_texts, width, dtype=torch.float64, device=sae.device)
    fired = torch.zeros(n_texts, width, dtype=torch.int32, device=sae.device)  # tokens
    error = torch.zeros(n_texts, dtype=torch.float64, device=sae.device)
    total = torch.zeros(n_texts, dtype=torch.float64, device=sae.device)
    decoder, bias = sae.W_dec.float(), sae.b_dec.float()
    with torch.no_grad():
        for start in range(0, hidden.shape[0], TOKEN_CHUNK):
            rows = hidden[start : start + TOKEN_CHUNK].to(sae.device).float()
            grads = gradient[start : start + TOKEN_CHUNK].to(sae.device).float()
            owner = text[start : start + TOKEN_CHUNK].to(sae.device)
            u, scale = standardised(rows, normalise)
            along = grads * scale[:, None]  # ∂r/∂u_t
            token, feature, contribution = _active_terms(sae, u, along, decoder)
            # e_t = u_t − z_t·W_dec − b_dec: its term needs no reconstruction
            explained = torch.zeros(len(rows), device=sae.device).index_add_(0, token, contribution)
            own_error = (u * along).sum(-1) - explained - along @ bias
            at = (owner[token], feature)
            features.index_put_(at, contribution.double(), accumulate=True)
            fired.index_put_(at, torch.ones_like(feature, dtype=torch.int32), accumulate=True)
            error.index_add_(0, owner, own_error.double())
            total.index_add_(0, owner, (rows * grads).sum(-1).double())
    return _sparse(features, fired, error, total)


def _active_terms(
    sae: Any, u: torch.Tensor, along: torch.Tensor, decoder: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each firing (token, feature) and its term z_j(t)·(d_j · ∂r/∂u_t): only the features
    that fire are dotted with the gradient (k of them a token for a TopK SAE, not all)."""
    import torch

    z = sae.encode(u.to(sae.dtype)).float()
    token, feature = z.nonzero(as_tuple=True)
    value = z[token, feature]
    dots = torch.empty_like(value)
    step = max(1, GATHERED // decoder.shape[1])
    for lo in range(0, len(token), step):
        rows = slice(lo, lo + step)
        dots[rows] = (decoder[feature[rows]] * along[token[rows]]).sum(-1)
    return token, feature, value * dots


def _sparse(
    features: torch.Tensor, fired: torch.Tensor, error: torch.Tensor, total: torch.Tensor
) -> TextAttributions:
    texts, columns = (fired > 0).nonzero(as_tuple=True)
    counts = np.bincount(texts.cpu().numpy(), minlength=fired.shape[0])
    values = features[texts, columns]
    error_np = error.cpu().numpy()
    rest = total.cpu().numpy() - features.sum(-1).cpu().numpy() - error_np
    return TextAttributions(
        error=error_np,
        rest=rest,
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        feature=columns.cpu().numpy().astype(np.int32),
        value=values.cpu().numpy().astype(np.float32),
    )
