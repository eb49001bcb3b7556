"""`safer attribute --check N`: attributions compared with real ablations.

For a sample of pairs and each of their top features by |attribution|, the feature is
removed at the layer from both texts, h_t − s_t z_j(t) d_j at every token (the SAE's error
stays, so nothing else moves), the rest of the model runs, and the margin's change is the
feature's real effect. Attribution patching estimates exactly this change to first order;
the check says how well, as the Spearman correlation of the two over every ablated
(pair, feature) and the share of pairs whose top feature by attribution is also the top by
ablation, each with a 95% bootstrap interval over pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from safer_engine.attribution.decompose import standardised
from safer_engine.attribution.files import AGREEMENT
from safer_engine.attribution.texts import TextRunner
from safer_engine.config import AblationCheckConfig
from safer_engine.models.batching import pad_batch
from safer_engine.progress import CancelToken, Progress

BOOTSTRAP = 1000


@dataclass(frozen=True)
class AblationCheck:
    """How well the attributions predict the ablations."""

    pairs: int
    features: int
    spearman: float
    spearman_low: float
    spearman_high: float
    top_agrees: float
    """Share of pairs whose top feature by |attribution| is the top by |ablation effect|."""
    top_low: float
    top_high: float
    seconds: float

    @property
    def agrees(self) -> bool:
        return self.spearman >= AGREEMENT

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agrees": self.agrees, "threshold": AGREEMENT}


def sample_pairs(pairs: pl.DataFrame, config: AblationCheckConfig) -> pl.DataFrame:
    """The checked pairs: a seeded sample of those with at least two attributed features."""
    eligible = pairs.with_row_index("row").filter(pl.col("top_feature").list.len() >= 2)
    count = min(config.pairs, eligible.height)
    return eligible.sample(count, seed=config.seed).sort("row")


def ablate_pairs(
    runner: TextRunner,
    pairs: pl.DataFrame,
    chosen: np.ndarray,
    rejected: np.ndarray,
    config: AblationCheckConfig,
    progress: Progress,
    cancel: CancelToken,
) -> pl.DataFrame:
    """One row per ablated (pair, feature): its attribution and its real effect on the
    margin (margin − margin with the feature removed)."""
    rows: list[dict[str, Any]] = []
    for done, pair in enumerate(pairs.iter_rows(named=True)):
        cancel.check("the ablation check")
        progress("ablating", done, pairs.height)
        features = pair["top_feature"][: config.features]
        row = pair["row"]
        change_c = text_ablations(runner, int(chosen[row]), features)
        change_r = text_ablations(runner, int(rejected[row]), features)
        for i, feature in enumerate(features):
            rows.append(
                {
                    "pair_id": pair["pair_id"],
                    "feature": int(feature),
                    "attribution": float(pair["top_attribution"][i]),
                    "ablation": float(change_c[i] - change_r[i]),
                }
            )
    progress("ablating", pairs.height, pairs.height)
    return pl.DataFrame(rows)


def text_ablations(runner: TextRunner, doc: int, features: list[int]) -> np.ndarray:
    """For each feature, the text's reward minus its reward with the feature removed at the
    layer."""
    import torch

    tokens = runner.reader.doc_tokens(doc).tolist()
    inputs = {k: v.to(runner.device) for k, v in pad_batch([tokens], runner.pad_id).items()}
    taken: list[torch.Tensor] = []

    def keep(output: torch.Tensor) -> torch.Tensor:
        taken.append(output)
        return output

    with torch.inference_mode():
        reward = runner.swap.rewards(inputs, keep)[0]
        hidden = taken[0][0].float()
        u, scale = standardised(hidden.to(runner.sae.device), runner.reader.normalise)
        z = runner.sae.encode(u.to(runner.sae.dtype)).float()[:, features]
        directions = runner.sae.W_dec[features].float()
        delta = -(z * scale[:, None]).T[:, :, None] * directions[:, None, :]
        repeated = {k: v.repeat(len(features), 1) for k, v in inputs.items()}
        ablated = runner.swap.ablated_rewards(repeated, delta.to(runner.device))
    return (reward - ablated).cpu().numpy()


def summarise(ablations: pl.DataFrame, seconds: float, seed: int = 0) -> AblationCheck:
    """Spearman and top-feature agreement, with 95% bootstrap intervals over pairs."""
    groups = [g for _, g in ablations.group_by("pair_id", maintain_order=True)]
    attribution = [g["attribution"].to_numpy() for g in groups]
    effect = [g["ablation"].to_numpy() for g in groups]

    def figures(chosen: np.ndarray) -> tuple[float, float]:
        a = np.concatenate([attribution[i] for i in chosen])
        e = np.concatenate([effect[i] for i in chosen])
        rho = float(stats.spearmanr(a, e).statistic)
        tops = [np.argmax(np.abs(attribution[i])) == np.argmax(np.abs(effect[i])) for i in chosen]
        return rho, float(np.mean(tops))

    everyone = np.arange(len(groups))
    spearman, top = figures(everyone)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [figures(rng.choice(everyone, len(everyone))) for _ in range(BOOTSTRAP)], dtype=float
    )
    low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    return AblationCheck(
        pairs=len(groups),
        features=ablations.height,
        spearman=spearman,
        spearman_low=float(low[0]),
        spearman_high=float(high[0]),
        top_agrees=top,
        top_low=float(low[1]),
        top_high=float(high[1]),
        seconds=round(seconds, 1),
    )
