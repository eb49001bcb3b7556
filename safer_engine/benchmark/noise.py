"""Noise with a known truth: a seeded share of the safety train pairs flipped.

The noisy table is what a user with mislabelled data would import: flipped pairs have chosen
and rejected swapped, and so the pair id of their texts (pair ids hash the three texts, so the
table's fingerprint tells every flip set apart). Two extra columns keep the truth, which no
model reads: `flipped`, and `clean_pair_id`, the pair's id in the clean data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from safer_engine.artifacts import CLEAN_PAIR_ID_COLUMN, FLIPPED_COLUMN
from safer_engine.data.fingerprint import pair_id
from safer_engine.errors import BenchmarkError

SAFETY = "safety"
NOISE_STREAM, RANDOM_STREAM, FOLD_STREAM = 0, 1, 2
"""Each seed's independent random streams: which pairs are flipped, the random method's
ranking, and cleanlab's folds (a ranking drawn from the flipping stream would know the truth)."""


@dataclass(frozen=True)
class NoisyData:
    table: pl.DataFrame
    """The whole canonical table, the chosen safety train pairs flipped, with the truth columns."""
    flipped: tuple[str, ...]
    """Pair ids (in the noisy table) of the flipped pairs, sorted."""
    noise: float
    seed: int
    safety_train: int
    """Safety train pairs, of which `len(flipped)` were flipped."""


def safety_train(pairs: pl.DataFrame) -> pl.DataFrame:
    """The safety slice's train pairs, by pair id."""
    return pairs.filter((pl.col("split") == "train") & (pl.col("slice") == SAFETY)).sort("pair_id")


def flip_count(available: int, noise: float) -> int:
    """How many of `available` safety train pairs `noise`% is; an error when it is none."""
    if available == 0:
        raise BenchmarkError(
            "The workspace's data has no safety train pairs, and the benchmark flips those.",
            "Import data whose slice column marks safety pairs `safety` (the demo data, "
            "PKU-SafeRLHF and RewardBench do).",
        )
    count = round(available * noise / 100)
    if count < 1:
        raise BenchmarkError(
            f"{noise:g}% of {available:,} safety train pairs rounds to 0 pairs.",
            f"Use a noise level of at least {100 / available:.2g}%.",
        )
    return count


def inject_noise(pairs: pl.DataFrame, noise: float, seed: int) -> NoisyData:
    """Flip a seeded `noise`% of the safety train pairs of the canonical table `pairs`."""
    if not 0 < noise <= 50:
        raise BenchmarkError(
            f"A noise level is a percentage above 0 and at most 50, not {noise:g}.",
            "Use e.g. --noise 5,10,20.",
        )
    candidates = safety_train(pairs)
    count = flip_count(candidates.height, noise)
    rng = np.random.default_rng([seed, NOISE_STREAM])
    chosen = np.sort(rng.choice(candidates.height, count, replace=False))
    picked = candidates["pair_id"].gather(chosen)
    flip = pl.col("pair_id").is_in(picked.to_list())
    noisy = pairs.with_columns(
        pl.when(flip).then(pl.col("rejected")).otherwise(pl.col("chosen")).alias("chosen"),
        pl.when(flip).then(pl.col("chosen")).otherwise(pl.col("rejected")).alias("rejected"),
        flip.alias(FLIPPED_COLUMN),
        pl.col("pair_id").alias(CLEAN_PAIR_ID_COLUMN),
    )
    ids = [
        pair_id(prompt, chosen_text, rejected_text) if flipped else old
        for old, prompt, chosen_text, rejected_text, flipped in noisy.select(
            "pair_id", "prompt", "chosen", "rejected", FLIPPED_COLUMN
        ).iter_rows()
    ]
    noisy = noisy.with_columns(pl.Series("pair_id", ids, dtype=pl.Utf8))
    if noisy["pair_id"].n_unique() != noisy.height:
        raise BenchmarkError(
            "A flipped pair is the same as another pair of the data (the data holds a pair "
            "and its reverse), so flipping it would merge two pairs.",
            "Drop reversed duplicates from the data, or use another --seeds count.",
        )
    flipped = noisy.filter(pl.col(FLIPPED_COLUMN))["pair_id"].sort().to_list()
    return NoisyData(noisy, tuple(flipped), noise, seed, candidates.height)
