from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch

from safer_engine.errors import Cancelled, ConfigError, ModelError, TrainingError
from safer_engine.progress import CancelToken, no_progress
from safer_engine.train import frozen_cache
from safer_engine.train.fast_recipe import (
    RecipeConfig,
    evaluate_fast,
    load_fast_rm,
    score,
    train_fast,
    training_steps,
)
from safer_engine.train.frozen_cache import FrozenCache, build_cache
from tests.tiny_models import separable_pairs

RECIPE = RecipeConfig(
    max_length=32,
    max_prompt_tokens=8,
    hidden=16,
    dropout=0.0,
    epochs=30,
    batch_pairs=8,
    learning_rate=1e-2,
)


def flipped(table: pl.DataFrame) -> pl.DataFrame:
    return table.with_columns(chosen=pl.col("rejected"), rejected=pl.col("chosen"))


@pytest.fixture(scope="module")
def cache(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> FrozenCache:
    folder = tmp_path_factory.mktemp("cache") / "frozen"
    return build_cache(
        str(tiny_bert), separable_pairs(), RECIPE, folder, no_progress, CancelToken()
    )


def test_the_cache_holds_one_pooled_vector_per_distinct_text(cache: FrozenCache) -> None:
    table = separable_pairs()
    assert len(cache.texts) == 2 * table.height  # every response is its own text here
    assert cache.features.shape == (len(cache.texts), 2 * 16)  # two blocks of width 16
    assert np.isfinite(cache.features).all()
    pairs = cache.pairs_of(table)
    assert [cache.texts[i][1] for i in pairs[:3, 0]] == table["chosen"].to_list()[:3]


def test_the_cache_is_reused_by_edited_tables_and_rebuilt_for_other_settings(
    tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Any] = []
    real = frozen_cache.load_reward_model

    def counting(*args: Any) -> Any:
        loads.append(args)
        return real(*args)

    monkeypatch.setattr(frozen_cache, "load_reward_model", counting)
    folder = tmp_path / "frozen"
    table = separable_pairs()
    first = build_cache(str(tiny_bert), table, RECIPE, folder, no_progress, CancelToken())
    again = build_cache(str(tiny_bert), flipped(table), RECIPE, folder, no_progress, CancelToken())
    assert len(loads) == 1
    assert again.key == first.key
    np.testing.assert_array_equal(again.features, first.features)

    other = RecipeConfig(**{**RECIPE.to_dict(), "pooling": "all"})
    rebuilt = build_cache(str(tiny_bert), table, other, folder, no_progress, CancelToken())
    assert len(loads) == 2
    assert rebuilt.key != first.key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frozen"]  # no partial or old left

    (folder / frozen_cache.FEATURES).write_bytes(b"damaged")
    repaired = build_cache(str(tiny_bert), table, other, folder, no_progress, CancelToken())
    assert len(loads) == 3
    np.testing.assert_array_equal(repaired.features, rebuilt.features)


def test_training_is_seeded_and_leaves_the_global_random_state_alone(
    cache: FrozenCache,
) -> None:
    recipe = RecipeConfig(**{**RECIPE.to_dict(), "dropout": 0.2, "epochs": 3})
    pairs = cache.pairs_of(separable_pairs())
    state = torch.random.get_rng_state()
    first = score(train_fast(cache, pairs, recipe, seed=0), cache)
    second = score(train_fast(cache, pairs, recipe, seed=0), cache)
    other = score(train_fast(cache, pairs, recipe, seed=1), cache)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_flipping_every_pair_trains_the_reward_the_other_way(cache: FrozenCache) -> None:
    table = separable_pairs()
    pairs = cache.pairs_of(table)
    clean = train_fast(cache, pairs, RECIPE)
    assert evaluate_fast(clean, cache, table, "all").overall.accuracy == 1.0
    assert clean.info["epoch_losses"][-1] < clean.info["epoch_losses"][0]
    poisoned = train_fast(cache, pairs[:, ::-1], RECIPE)
    assert evaluate_fast(poisoned, cache, table, "all").overall.accuracy == 0.0


def test_a_saved_head_scores_the_same_and_only_on_its_own_cache(
    cache: FrozenCache, tmp_path: Path
) -> None:
    model = train_fast(cache, cache.pairs_of(separable_pairs()), RECIPE)
    model.save(tmp_path / "head")
    loaded = load_fast_rm(tmp_path / "head")
    np.testing.assert_array_equal(score(loaded, cache), score(model, cache))
    assert loaded.recipe == RECIPE
    other = FrozenCache(cache.features, cache.texts, {**cache.info, "key": "other"})
    with pytest.raises(TrainingError, match="another frozen cache"):
        score(loaded, other)
    (tmp_path / "head" / "head.safetensors").write_bytes(b"damaged")
    with pytest.raises(ModelError, match="cannot be read"):
        load_fast_rm(tmp_path / "head")


def test_cancel_stops_the_cache_build_and_training(
    tiny_bert: Path, cache: FrozenCache, tmp_path: Path
) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        build_cache(str(tiny_bert), separable_pairs(), RECIPE, tmp_path / "c", no_progress, cancel)
    assert not list(tmp_path.iterdir())

    cancel = CancelToken()
    seen: list[int] = []

    def cancel_after_first_epoch(task: str, done: int, total: int | None) -> None:
        seen.append(done)
        if done > 0:
            cancel.cancel()

    with pytest.raises(Cancelled):
        train_fast(
            cache, cache.pairs_of(separable_pairs()), RECIPE, 0, cancel_after_first_epoch, cancel
        )
    assert seen == [0, 2]  # steps taken at each epoch's start: 2 steps of 16 prompts' texts


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"batch_pairs": 0},
        {"batch_texts": 0},
        {"batching": "texts"},
        {"max_steps": 0},
        {"warmup_ratio": 1.0},
        {"max_prompt_tokens": 128},
        {"pooling": "cls"},
        {"layers": (0, 1)},
        {"layers": (2, 2)},
        {"layers": ()},
        {"hidden": -1},
        {"dropout": 1.0},
        {"learning_rate": 0.0},
        {"weight_decay": -0.1},
        {"threads": -1},
    ],
)
def test_bad_settings_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RecipeConfig(**bad)


def test_layers_beyond_the_backbone_and_bad_pairs_are_refused(
    tiny_bert: Path, cache: FrozenCache, tmp_path: Path
) -> None:
    recipe = RecipeConfig(**{**RECIPE.to_dict(), "layers": (1, 3)})
    with pytest.raises(ConfigError, match="2 blocks"):
        build_cache(
            str(tiny_bert), separable_pairs(), recipe, tmp_path / "c", no_progress, CancelToken()
        )
    for bad in (np.zeros((0, 2), np.int64), np.array([[0, len(cache.texts)]]), np.zeros((3, 3))):
        with pytest.raises(TrainingError):
            train_fast(cache, bad, RECIPE)


def test_a_recipe_survives_its_json_round_trip(tmp_path: Path) -> None:
    recipe = RecipeConfig(layers=(2, 4, 6))
    recipe.save(tmp_path / "recipe.json")
    assert RecipeConfig.load(tmp_path / "recipe.json") == recipe


def test_steps_pack_whole_prompt_groups_as_the_full_recipe_does() -> None:
    texts = [(f"prompt {p}", f"response {r}") for p in range(4) for r in range(4)]
    pairs = np.array(
        [[p * 4 + a, p * 4 + b] for p in range(4) for a in range(4) for b in range(a + 1, 4)]
    )
    recipe = RecipeConfig(batch_texts=8)
    steps = training_steps(pairs, texts, recipe, seed=0)
    assert len(steps) == 2 and sum(len(step) for step in steps) == len(pairs)
    for step in steps:
        prompts = {texts[int(t)][0] for t in step.unique()}
        assert len(step.unique()) <= 8 and len(prompts) == 2
        assert len(step) == 2 * 6  # every pair of both prompts: 6 among 4 texts each
    shuffled = training_steps(pairs, texts, RecipeConfig(batching="pairs", batch_pairs=5), 0)
    assert [len(step) for step in shuffled] == [5, 5, 5, 5, 4]
    assert sorted(map(tuple, np.concatenate(shuffled).tolist())) == sorted(
        map(tuple, pairs.tolist())
    )


def test_max_steps_bounds_training(cache: FrozenCache) -> None:
    recipe = RecipeConfig(**{**RECIPE.to_dict(), "max_steps": 3})
    steps: list[int] = []
    train_fast(cache, cache.pairs_of(separable_pairs()), recipe, 0, lambda t, d, n: steps.append(d))
    assert steps == [0, 2, 3]  # epochs of two steps, cut at the third
