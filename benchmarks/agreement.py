"""How far the pair score agrees with people: Spearman correlation between each safety pair's
score and the gap between its two responses' human harm scores (rejected − chosen), with a
bootstrap 95% interval over pairs.

    .venv/bin/python benchmarks/agreement.py [--workspace DIR] [--select salience judge]
                                             [--boot 2000] [--seed 0]

Needs a workspace whose pairs carry `chosen_score` and `rejected_score` (the embedded demo
data does: human harm ratings from 0 to 1) and salience (run `safer demo` first); `judge`
uses the judgements already in its labels.sqlite (run `safer judge` first). Prints one line
per selection source; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from safer_engine.config import SelectionConfig
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.stage import score_pairs
from safer_engine.workspace import Workspace, default_workspace


def agreement(scores: np.ndarray, gaps: np.ndarray, boot: int, seed: int) -> tuple[float, ...]:
    """Spearman's rho and the 2.5th and 97.5th percentiles of its bootstrap over pairs."""
    rho = float(spearmanr(scores, gaps).statistic)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(boot):
        pick = rng.integers(0, len(scores), len(scores))
        value = spearmanr(scores[pick], gaps[pick]).statistic
        if np.isfinite(value):
            draws.append(value)
    low, high = np.percentile(draws, [2.5, 97.5])
    return rho, float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=default_workspace())
    parser.add_argument("--select", nargs="+", default=["salience", "judge"])
    parser.add_argument("--boot", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    workspace = Workspace.open(args.workspace)
    sae_id = workspace.sae_ids()[-1]
    pairs, _ = workspace.pairs()
    human = pairs.filter(pl.col("slice") == "safety").select(
        "pair_id", (pl.col("rejected_score") - pl.col("chosen_score")).alias("gap")
    )
    judged = judge_scores(workspace, sae_id)
    print(f"workspace {workspace.root}, SAE {sae_id}; {human.height:,} safety pairs")
    for source in args.select:
        result = score_pairs(workspace, sae_id, SelectionConfig(select=source), judged)
        if result.selection.source != source or not result.selection.features:
            print(f"  {source:9s}: no features selected (nothing judged at the threshold?)")
            continue
        joined = result.table.join(human, on="pair_id")
        rho, low, high = agreement(
            joined["score"].to_numpy(), joined["gap"].to_numpy(), args.boot, args.seed
        )
        print(
            f"  {source:9s}: Spearman {rho:+.3f} (95% CI {low:+.3f} to {high:+.3f}) over "
            f"{joined.height:,} pairs; {len(result.selection.safe)} safe and "
            f"{len(result.selection.unsafe)} unsafe features"
        )


if __name__ == "__main__":
    main()
