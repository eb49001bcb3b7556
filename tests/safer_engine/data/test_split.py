from __future__ import annotations

import polars as pl

from safer_engine.data.split import assign_splits, prompts_in_both_splits


def frame(prompts: list[str], splits: list[str | None] | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "prompt": prompts,
            "slice": ["all"] * len(prompts),
            "split": splits or [None] * len(prompts),
        },
        schema={"prompt": pl.Utf8, "slice": pl.Utf8, "split": pl.Utf8},
    )


def many_prompts() -> pl.DataFrame:
    # 40 prompts with 1..5 pairs each, like responses grouped under one objective
    prompts = [f"objective {i}" for i in range(40) for _ in range(1 + i % 5)]
    return frame(prompts)


def test_no_prompt_is_in_both_splits() -> None:
    split = assign_splits(many_prompts(), test_fraction=0.2, seed=0)
    assert prompts_in_both_splits(split) == []
    assert split.group_by("prompt").agg(pl.col("split").n_unique())["split"].max() == 1


def test_test_share_reaches_the_fraction_by_whole_prompts() -> None:
    split = assign_splits(many_prompts(), test_fraction=0.2, seed=0)
    share = (split["split"] == "test").mean()
    assert 0.2 <= share < 0.2 + 5 / split.height  # overshoot below one prompt's pairs


def test_split_is_seeded_and_independent_of_row_order() -> None:
    data = many_prompts()
    first = assign_splits(data, 0.2, seed=1)
    shuffled = assign_splits(data.sample(fraction=1.0, shuffle=True, seed=5), 0.2, seed=1)
    other_seed = assign_splits(data, 0.2, seed=2)

    def held_out(f: pl.DataFrame) -> set[str]:
        return set(f.filter(pl.col("split") == "test")["prompt"])

    assert held_out(first) == held_out(shuffled)
    assert held_out(first) != held_out(other_seed)


def test_given_splits_are_kept_and_passed_to_the_same_prompt() -> None:
    data = frame(["a", "a", "b", "c"], ["test", None, "train", None])
    split = dict(assign_splits(data, 0.5, seed=0).select("prompt", "split").unique().iter_rows())
    assert split["a"] == "test"
    assert split["b"] == "train"
    assert split["c"] in {"train", "test"}


def test_leaked_prompts_are_found() -> None:
    assert prompts_in_both_splits(frame(["a", "a", "b"], ["train", "test", "train"])) == ["a"]


def test_one_huge_prompt_does_not_become_the_test_set() -> None:
    # 30 prompts of 2 pairs and one of 100: 20% is 32 pairs, far below the big prompt
    prompts = ["big"] * 100 + [f"small {i}" for i in range(30) for _ in range(2)]
    for seed in range(10):
        split = assign_splits(frame(prompts), 0.2, seed=seed)
        held = split.filter(pl.col("split") == "test")
        assert "big" not in set(held["prompt"])
        assert 32 <= held.height <= 36


def test_each_slice_gets_its_share() -> None:
    data = pl.DataFrame(
        {
            "prompt": [f"s{i}" for i in range(50)] + [f"g{i}" for i in range(10)],
            "slice": ["safety"] * 50 + ["general"] * 10,
            "split": [None] * 60,
        },
        schema={"prompt": pl.Utf8, "slice": pl.Utf8, "split": pl.Utf8},
    )
    split = assign_splits(data, 0.2, seed=0)
    counts = dict(split.filter(pl.col("split") == "test").group_by("slice").len().iter_rows())
    assert counts == {"safety": 10, "general": 2}
