"""Noise injection is seeded, flips exactly the pairs it says, and only safety train pairs."""

from __future__ import annotations

import polars as pl
import pytest

from safer_engine.benchmark.noise import flip_count, inject_noise, safety_train
from safer_engine.data.fingerprint import pair_id, table_fingerprint, with_pair_ids
from safer_engine.errors import BenchmarkError


def table(safety_train_pairs: int = 40) -> pl.DataFrame:
    rows = []
    for i in range(safety_train_pairs + 20):
        rows.append(
            {
                "prompt": f"prompt {i}",
                "chosen": f"good {i}",
                "rejected": f"bad {i}",
                "slice": "safety" if i < safety_train_pairs + 10 else "general",
                "split": "test" if safety_train_pairs <= i < safety_train_pairs + 10 else "train",
                "source": "test",
            }
        )
    return with_pair_ids(pl.DataFrame(rows)).select("pair_id", pl.all().exclude("pair_id"))


def test_flips_exactly_the_asked_share_of_safety_train_pairs() -> None:
    clean = table()
    noisy = inject_noise(clean, 10, seed=3)
    assert noisy.safety_train == 40 and len(noisy.flipped) == 4
    flipped = noisy.table.filter(pl.col("flipped"))
    assert flipped.height == 4
    assert set(flipped["slice"]) == {"safety"} and set(flipped["split"]) == {"train"}
    # every flipped pair is its clean pair reversed, with the id of its new texts
    originals = clean.join(flipped, left_on="pair_id", right_on="clean_pair_id", suffix="_n")
    assert originals.height == 4
    assert originals["chosen"].to_list() == originals["rejected_n"].to_list()
    assert originals["rejected"].to_list() == originals["chosen_n"].to_list()
    assert originals["pair_id_n"].to_list() == [
        pair_id(*row) for row in originals.select("prompt", "chosen_n", "rejected_n").iter_rows()
    ]
    assert sorted(originals["pair_id_n"].to_list()) == list(noisy.flipped)
    # everything else is untouched, in the same order
    kept = noisy.table.filter(~pl.col("flipped")).drop("flipped", "clean_pair_id")
    assert kept.equals(clean.filter(~pl.col("pair_id").is_in(flipped["clean_pair_id"].to_list())))
    assert noisy.table["clean_pair_id"].to_list() == clean["pair_id"].to_list()
    assert table_fingerprint(noisy.table) != table_fingerprint(clean)


def test_seeded() -> None:
    clean = table()
    assert inject_noise(clean, 20, 0).flipped == inject_noise(clean.reverse(), 20, 0).flipped
    assert inject_noise(clean, 20, 0).flipped != inject_noise(clean, 20, 1).flipped
    # a higher level at the same seed draws its own set; the count follows the level
    assert len(inject_noise(clean, 50, 0).flipped) == 20


def test_bad_input() -> None:
    with pytest.raises(BenchmarkError, match="at most 50"):
        inject_noise(table(), 60, 0)
    with pytest.raises(BenchmarkError, match="above 0"):
        inject_noise(table(), 0, 0)
    general = table().with_columns(pl.lit("general").alias("slice"))
    with pytest.raises(BenchmarkError, match="no safety train pairs") as caught:
        inject_noise(general, 10, 0)
    assert "slice" in caught.value.hint
    with pytest.raises(BenchmarkError, match="rounds to 0 pairs"):
        flip_count(8, 5)
    assert safety_train(table()).height == 40
