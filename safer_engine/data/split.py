"""Seeded train/test split by prompt, so no prompt is in both splits."""

from __future__ import annotations

import math
import random

import polars as pl

# A prompt is held out only while the test share stays within this much of its target:
# one prompt with hundreds of pairs must not become most of a test set.
OVERSHOOT = 0.1


def assign_splits(frame: pl.DataFrame, test_fraction: float, seed: int) -> pl.DataFrame:
    """Fill null `split` values by holding out whole prompts, per slice.

    Rows whose split the data already gives keep it, and a prompt with a given split passes
    it on to its unsplit rows. Each slice (in name order) holds out about `test_fraction`
    of its unsplit pairs; a prompt takes the split it got in the first slice that had it.
    """
    known = (
        frame.filter(pl.col("split").is_not_null())
        .group_by("prompt")
        .agg(pl.col("split").first().alias("known_split"))
    )
    frame = (
        frame.join(known, on="prompt", how="left", maintain_order="left")
        .with_columns(pl.coalesce("split", "known_split").alias("split"))
        .drop("known_split")
    )
    held_out: set[str] = set()
    decided: set[str] = set()
    rng = random.Random(seed)
    for slice_name in sorted(frame["slice"].unique().to_list()):
        pending = frame.filter(pl.col("split").is_null() & (pl.col("slice") == slice_name))
        sizes = dict(pending.group_by("prompt").len().iter_rows())
        undecided = sorted(p for p in sizes if p not in decided)
        rng.shuffle(undecided)
        held_out |= _hold_out(undecided, sizes, test_fraction * pending.height)
        decided |= set(undecided)
    fill = pl.when(pl.col("prompt").is_in(sorted(held_out)))
    return frame.with_columns(
        pl.coalesce("split", fill.then(pl.lit("test")).otherwise(pl.lit("train"))).alias("split")
    )


def _hold_out(prompts: list[str], sizes: dict[str, int], target: float) -> set[str]:
    """Walk shuffled prompts, holding out each that fits under the target plus slack."""
    ceiling = math.ceil(target * (1 + OVERSHOOT))
    chosen: set[str] = set()
    count = 0
    for prompt in prompts:
        if count >= target:
            break
        if count + sizes[prompt] <= ceiling:
            chosen.add(prompt)
            count += sizes[prompt]
    return chosen


def prompts_in_both_splits(frame: pl.DataFrame) -> list[str]:
    """Prompts that appear in train and in test (a leak, when the data's own split has it)."""
    counts = frame.group_by("prompt").agg(pl.col("split").n_unique().alias("n"))
    return counts.filter(pl.col("n") > 1)["prompt"].to_list()
