"""Edit plans select exactly the right train pairs, are seeded, reproducible and explained;
applying one flips chosen and rejected or removes rows and changes nothing else."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import EditConfig
from safer_engine.data.fingerprint import table_fingerprint
from safer_engine.edits.apply import apply_plan
from safer_engine.edits.plan import EditPlan, make_plan
from safer_engine.errors import ConfigError, EditError
from tests.tiny_models import separable_pairs


@pytest.fixture
def pairs() -> pl.DataFrame:
    return separable_pairs()  # 20 pairs; 16 train


def scores_of(pairs: pl.DataFrame) -> pl.DataFrame:
    """Train pair i scores i / 10 (test pairs score 100: they must never be picked)."""
    return pairs.with_row_index("i").select(
        "pair_id",
        pl.when(pl.col("split") == "train")
        .then(pl.col("i").cast(pl.Float64) / 10)
        .otherwise(100.0)
        .alias("score"),
    )


def plan(pairs: pl.DataFrame, **config: object) -> EditPlan:
    cfg = EditConfig(**config)  # type: ignore[arg-type]
    return make_plan(pairs, table_fingerprint(pairs), cfg, scores_of(pairs), {"source": "tags"})


def train_ids_by_score(pairs: pl.DataFrame) -> list[str]:
    ranked = pairs.join(scores_of(pairs), on="pair_id").filter(pl.col("split") == "train")
    return ranked.sort("score", descending=True)["pair_id"].to_list()


def test_poison_flips_the_top_and_denoise_removes_the_bottom(pairs: pl.DataFrame) -> None:
    ranked = train_ids_by_score(pairs)
    poison = plan(pairs, mode="poison", ratio=25)  # 25% of 16 train pairs = 4
    assert [e.pair_id for e in poison.edits] == ranked[:4]
    assert [e.rank for e in poison.edits] == [1, 2, 3, 4]
    assert all(e.action == "flip" and "top 25% by pair score" in e.reason for e in poison.edits)
    assert poison.edits[0].score == pytest.approx(
        max(s for s in scores_of(pairs)["score"] if s < 100)
    )
    denoise = plan(pairs, mode="denoise", ratio=25)
    assert [e.pair_id for e in denoise.edits] == ranked[::-1][:4]
    assert [e.rank for e in denoise.edits] == [16, 15, 14, 13]
    assert all(e.action == "remove" for e in denoise.edits)
    assert sum(poison.counts.values()) == 4 and set(poison.counts) <= {"safety", "general"}


def test_random_baselines_are_seeded_and_reproducible(pairs: pl.DataFrame) -> None:
    first = plan(pairs, mode="random-flip", ratio=50, seed=1)
    assert first == plan(pairs, mode="random-flip", ratio=50, seed=1)
    other = plan(pairs, mode="random-flip", ratio=50, seed=2)
    assert {e.pair_id for e in first.edits} != {e.pair_id for e in other.edits}
    train = set(pairs.filter(pl.col("split") == "train")["pair_id"])
    assert len(first.edits) == 8 and {e.pair_id for e in first.edits} <= train
    # row order never matters: the same plan from shuffled rows
    shuffled = pairs.sample(fraction=1.0, shuffle=True, seed=3)
    assert plan(shuffled, mode="random-remove", ratio=50) == plan(
        pairs, mode="random-remove", ratio=50
    )


def test_flips_swap_chosen_and_rejected_and_nothing_else(pairs: pl.DataFrame) -> None:
    poison = plan(pairs, mode="poison", ratio=25)
    edited = apply_plan(pairs, poison)
    flipped = {e.pair_id for e in poison.edits}
    assert edited.columns == pairs.columns and edited.height == pairs.height
    for before, after in zip(
        pairs.iter_rows(named=True), edited.iter_rows(named=True), strict=True
    ):
        if before["pair_id"] in flipped:
            assert (after["chosen"], after["rejected"]) == (before["rejected"], before["chosen"])
            assert {k: v for k, v in after.items() if k not in ("chosen", "rejected")} == {
                k: v for k, v in before.items() if k not in ("chosen", "rejected")
            }
        else:
            assert after == before


def test_removal_keeps_row_order_and_the_test_split(pairs: pl.DataFrame) -> None:
    denoise = plan(pairs, mode="denoise", ratio=25)
    edited = apply_plan(pairs, denoise)
    removed = {e.pair_id for e in denoise.edits}
    expected = [p for p in pairs["pair_id"] if p not in removed]
    assert edited["pair_id"].to_list() == expected
    assert edited.filter(pl.col("split") == "test").equals(pairs.filter(pl.col("split") == "test"))


def test_manual_plans_and_a_plan_round_trip(pairs: pl.DataFrame, tmp_path: Path) -> None:
    train = pairs.filter(pl.col("split") == "train")["pair_id"].to_list()
    cfg = EditConfig(mode="manual", pairs="ids.txt", action="remove")
    manual = make_plan(pairs, table_fingerprint(pairs), cfg, manual_ids=[train[3], train[1]])
    assert [e.pair_id for e in manual.edits] == [train[3], train[1]]
    assert manual.plan_id.startswith("manual-remove-")
    manual.save(tmp_path / "plan.json")
    assert EditPlan.load(tmp_path / "plan.json") == manual
    test_pair = pairs.filter(pl.col("split") == "test")["pair_id"][0]
    with pytest.raises(EditError, match="not train pairs of this data"):
        make_plan(pairs, table_fingerprint(pairs), cfg, manual_ids=[test_pair])


def test_bad_plans_are_refused(pairs: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="above 0 and below 100"):
        EditConfig(ratio=0)
    with pytest.raises(ConfigError, match="above 0 and below 100"):
        EditConfig(ratio=100)
    with pytest.raises(ConfigError, match="needs --pairs"):
        EditConfig(mode="manual")
    with pytest.raises(EditError, match="rounds to 0 pairs"):
        plan(pairs, mode="poison", ratio=1)  # 1% of 16
    with pytest.raises(EditError, match="there are none"):
        make_plan(pairs, table_fingerprint(pairs), EditConfig(mode="denoise"), None)
    other = plan(pairs.head(10), mode="poison", ratio=25)
    with pytest.raises(EditError, match="was made for other data"):
        apply_plan(pairs, other)
