"""Applying an edit plan to the canonical pairs: deterministic, and only to the data it was
made for."""

from __future__ import annotations

import polars as pl

from safer_engine.data.fingerprint import table_fingerprint
from safer_engine.edits.plan import EditPlan
from safer_engine.errors import EditError


def check_plan_data(plan: EditPlan, pairs: pl.DataFrame) -> None:
    """Refuse a plan made for other data: its edits would name other pairs."""
    if table_fingerprint(pairs) != plan.data_fingerprint:
        raise EditError(
            f"Edit plan {plan.plan_id} was made for other data (fingerprint "
            f"{plan.data_fingerprint[:12]}…, this workspace has {table_fingerprint(pairs)[:12]}…).",
            "Make a new plan on this workspace with `safer edit plan`.",
        )


def flipped_and_removed(plan: EditPlan) -> tuple[set[str], set[str]]:
    flips = {e.pair_id for e in plan.edits if e.action == "flip"}
    removed = {e.pair_id for e in plan.edits if e.action == "remove"}
    return flips, removed


def apply_plan(pairs: pl.DataFrame, plan: EditPlan) -> pl.DataFrame:
    """The whole canonical table with the plan applied: flipped train pairs have chosen and
    rejected swapped, removed ones are gone, every other row and the row order are kept.
    Pair ids stay those of the original pairs, so every row traces back to its source."""
    check_plan_data(plan, pairs)
    flips, removed = flipped_and_removed(plan)
    is_train = pl.col("split") == "train"
    flip = is_train & pl.col("pair_id").is_in(list(flips))
    return pairs.filter(~(is_train & pl.col("pair_id").is_in(list(removed)))).with_columns(
        pl.when(flip).then(pl.col("rejected")).otherwise(pl.col("chosen")).alias("chosen"),
        pl.when(flip).then(pl.col("chosen")).otherwise(pl.col("rejected")).alias("rejected"),
    )
