from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safer_engine.analysis.feature_index import build_feature_index
from safer_engine.analysis.feature_stats import FeatureStats, feature_stats
from safer_engine.errors import AnalysisError
from tests.safer_engine.analysis import N_LATENTS, Codes, random_codes, set_at, tiny_codes, with_


def brute_stats(c: Codes, n_latents: int, n_bins: int) -> dict[str, Any]:
    """feature_stats by plain Python loops over every row and code."""
    sums = {"chosen": [0.0] * n_latents, "rejected": [0.0] * n_latents}
    fires = {"chosen": [0.0] * n_latents, "rejected": [0.0] * n_latents}
    tokens = {"chosen": 0.0, "rejected": 0.0}
    every = {
        "sums": {"chosen": [0.0] * n_latents, "rejected": [0.0] * n_latents},
        "fires": {"chosen": [0.0] * n_latents, "rejected": [0.0] * n_latents},
        "tokens": {"chosen": 0.0, "rejected": 0.0},
    }
    values: list[list[float]] = [[] for _ in range(n_latents)]
    for row in range(c["idx"].shape[0]):
        doc = int(c["row_doc"][row])
        weight = {"chosen": c["chosen_weight"][doc], "rejected": c["rejected_weight"][doc]}
        for side in sums:
            tokens[side] += weight[side] if c["selected"][row] else 0.0
            every["tokens"][side] += weight[side]
        for f, v in zip(c["idx"][row].tolist(), c["val"][row].astype(float).tolist(), strict=True):
            if v <= 0:
                continue
            values[f].append(v)
            for side in sums:
                every["sums"][side][f] += v * weight[side]
                every["fires"][side][f] += weight[side]
                if c["selected"][row]:
                    sums[side][f] += v * weight[side]
                    fires[side][f] += weight[side]
    top = max((max(v) for v in values if v), default=0.0)
    edges = np.linspace(0.0, top, n_bins + 1).astype(np.float32)
    return {
        "sum_chosen": sums["chosen"],
        "sum_rejected": sums["rejected"],
        "fires_chosen": fires["chosen"],
        "fires_rejected": fires["rejected"],
        "tokens_chosen": tokens["chosen"],
        "tokens_rejected": tokens["rejected"],
        "max_act": [max(v, default=0.0) for v in values],
        "density": [len(v) / c["idx"].shape[0] for v in values],
        "hist": [np.histogram(v, bins=edges)[0].tolist() for v in values],
        "hist_edges": edges,
        "sum_chosen_all": every["sums"]["chosen"],
        "sum_rejected_all": every["sums"]["rejected"],
        "fires_chosen_all": every["fires"]["chosen"],
        "fires_rejected_all": every["fires"]["rejected"],
        "tokens_chosen_all": every["tokens"]["chosen"],
        "tokens_rejected_all": every["tokens"]["rejected"],
    }


def stats_of(c: Codes, n_latents: int = N_LATENTS, **kwargs: Any) -> FeatureStats:
    return feature_stats(n_latents=n_latents, **c, **kwargs)


SUMS = ("sum_chosen", "sum_rejected", "fires_chosen", "fires_rejected")
ALL_SUMS = tuple(f"{name}_all" for name in SUMS)
TOKENS = ("tokens_chosen", "tokens_rejected", "tokens_chosen_all", "tokens_rejected_all")


def assert_same_stats(a: FeatureStats, b: FeatureStats) -> None:
    for name in SUMS + ALL_SUMS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-12)
    for name in TOKENS:
        assert getattr(a, name) == pytest.approx(getattr(b, name))
    for name in ("max_act", "density", "hist", "hist_edges"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.n_rows == b.n_rows


# --- feature_stats -------------------------------------------------------------------------


def test_selected_sums_match_a_hand_computation() -> None:
    stats = stats_of(tiny_codes())
    # chosen side, selected rows only, doc0 weighted 2 (chosen in two pairs), doc2 weighted 1:
    #   row1 (doc0): 0: 2·1.0, 2: 2·0.5    row3 (doc0): 0: 2·2.0, 1: 2·1.0
    #   row8 (doc2): 2: 1.0, 0: 0.5        row9 (doc2): 3: 1.5
    assert stats.sum_chosen.tolist() == [2.0 + 4.0 + 0.5, 2.0, 1.0 + 1.0, 1.5]
    # rejected side, doc1 weighted 2, doc2 weighted 1: row6 (doc1): 1: 2·2.0 (2 is a zero)
    #   row8 (doc2): 2: 1.0, 0: 0.5        row9 (doc2): 3: 1.5
    assert stats.sum_rejected.tolist() == [0.5, 4.0, 1.0, 1.5]
    # weighted selected tokens: chosen 2·2 (doc0) + 1·2 (doc2); rejected 2·1 (doc1) + 1·2 (doc2)
    assert (stats.tokens_chosen, stats.tokens_rejected) == (6.0, 4.0)
    # weighted selected tokens where each latent fires (activation > 0)
    assert stats.fires_chosen.tolist() == [2 + 2 + 1, 2, 2 + 1, 1]
    assert stats.fires_rejected.tolist() == [1, 2, 1, 1]


def test_all_token_sums_match_a_hand_computation() -> None:
    stats = stats_of(tiny_codes())
    # every row, chosen side (doc0 weighs 2, doc1 0, doc2 1):
    #   0: 2·(5 + 1 + 2) + 0.5    1: 2·(1 + 1)    2: 2·0.5 + 4 + 1    3: 2·2 + 1 + 1.5
    assert stats.sum_chosen_all.tolist() == [16.5, 4.0, 6.0, 6.5]
    # rejected side (doc0 weighs 0, doc1 2, doc2 1):
    #   0: 0.5    1: 2·(3 + 1 + 2)    2: 2·1 + 4 + 1    3: 2·0.5 + 1 + 1.5
    assert stats.sum_rejected_all.tolist() == [0.5, 12.0, 7.0, 3.5]
    # weighted rows: chosen 2·4 (doc0) + 1·3 (doc2); rejected 2·3 (doc1) + 1·3 (doc2)
    assert (stats.tokens_chosen_all, stats.tokens_rejected_all) == (11.0, 9.0)
    # weighted rows where each latent fires; zeros (rows 2, 6, 9) do not fire
    assert stats.fires_chosen_all.tolist() == [2 * 3 + 1, 2 * 2, 2 + 2, 2 + 2]
    assert stats.fires_rejected_all.tolist() == [1, 2 * 3, 2 + 2, 2 + 2]


def test_all_token_sums_equal_the_selected_ones_when_every_row_is_selected() -> None:
    codes = random_codes(4, ties=False)
    stats = stats_of(dict(codes, selected=np.ones_like(codes["selected"])), n_latents=6)
    for name in (*SUMS, "tokens_chosen", "tokens_rejected"):
        np.testing.assert_allclose(getattr(stats, name), getattr(stats, f"{name}_all"))


def test_max_density_and_histogram_cover_all_rows() -> None:
    stats = stats_of(tiny_codes(), n_bins=4)
    assert stats.max_act.tolist() == [5.0, 3.0, 4.0, 2.0]  # 5.0 and 3.0 on unselected rows
    assert stats.max_act.dtype == np.float32
    # rows firing: 0 → {0,1,3,8}, 1 → {0,3,4,5,6}, 2 → {1,4,7,8}, 3 → {2,5,7,9}
    np.testing.assert_allclose(stats.density, [0.4, 0.5, 0.4, 0.4])
    assert stats.density.dtype == np.float32
    assert stats.hist_edges.tolist() == [0.0, 1.25, 2.5, 3.75, 5.0]
    # 0: 5.0 1.0 2.0 0.5 | 1: 1.0 1.0 3.0 1.0 2.0 | 2: 0.5 1.0 4.0 1.0 | 3: 2.0 0.5 1.0 1.5
    assert stats.hist.tolist() == [[2, 1, 0, 1], [3, 1, 1, 0], [3, 0, 0, 1], [2, 2, 0, 0]]
    assert stats.hist.dtype == np.int64
    assert stats.n_rows == 10
    assert stats.n_latents == N_LATENTS


@pytest.mark.parametrize("one_sided", [False, True])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stats_match_brute_force(seed: int, ties: bool, one_sided: bool) -> None:
    codes = random_codes(seed, ties)
    if one_sided:  # as in real data, each text on one side (but one, on both)
        chosen = codes["chosen_weight"]
        codes["rejected_weight"][1:] = np.where(chosen[1:] > 0, 0, codes["rejected_weight"][1:])
        codes["chosen_weight"][0] = codes["rejected_weight"][0] = 2
    stats = stats_of(codes, n_latents=6, n_bins=5, chunk_rows=7)
    expected = brute_stats(codes, 6, 5)
    for name in (*SUMS, *ALL_SUMS, "density"):
        np.testing.assert_allclose(getattr(stats, name), expected[name], rtol=1e-6)
    for name in TOKENS:
        assert getattr(stats, name) == pytest.approx(expected[name])
    np.testing.assert_array_equal(stats.max_act, expected["max_act"])
    np.testing.assert_array_equal(stats.hist_edges, expected["hist_edges"])
    np.testing.assert_array_equal(stats.hist, expected["hist"])


@pytest.mark.parametrize("seed", [0, 1])
def test_chunked_equals_unchunked(seed: int) -> None:
    codes = random_codes(seed, ties=False)
    whole = stats_of(codes, n_latents=6, chunk_rows=1_000)
    for chunk_rows in (1, 3, None):
        assert_same_stats(stats_of(codes, n_latents=6, chunk_rows=chunk_rows), whole)


def test_zero_activations_are_ignored() -> None:
    codes = tiny_codes()
    moved = dict(codes, idx=np.where(codes["val"] == 0, 3, codes["idx"]).astype(np.int32))
    assert_same_stats(stats_of(moved), stats_of(codes))
    negative = dict(codes, val=np.where(codes["val"] == 0, -0.0, codes["val"]).astype(np.float16))
    assert np.signbit(negative["val"]).any()
    assert_same_stats(stats_of(negative), stats_of(codes))


def test_memory_mapped_inputs(tmp_path: Path) -> None:
    codes = random_codes(3, ties=False)
    mapped: Codes = {}
    for name, array in codes.items():
        mapped[name] = np.lib.format.open_memmap(
            tmp_path / f"{name}.npy", "w+", array.dtype, array.shape
        )
        mapped[name][:] = array
    assert_same_stats(stats_of(mapped, n_latents=6, chunk_rows=5), stats_of(codes, n_latents=6))
    np.testing.assert_array_equal(
        build_feature_index(mapped["idx"], mapped["val"], 6, chunk_rows=4)[1],
        build_feature_index(codes["idx"], codes["val"], 6)[1],
    )


def test_no_rows_and_no_activations() -> None:
    codes = tiny_codes()
    empty = {
        name: a[:0] if name not in ("chosen_weight", "rejected_weight") else a
        for name, a in codes.items()
    }
    stats = stats_of(empty)
    assert stats.n_rows == 0 and stats.hist.shape == (N_LATENTS, 32)
    assert not stats.sum_chosen.any() and not stats.density.any()
    silent = dict(codes, val=np.zeros_like(codes["val"]))
    assert not stats_of(silent).max_act.any()
    offsets, rows, vals = build_feature_index(silent["idx"], silent["val"], N_LATENTS)
    assert offsets.tolist() == [0] * (N_LATENTS + 1) and rows.size == vals.size == 0


BAD_INPUTS = [
    (with_("val", lambda v: v[:, :1]), r"val has shape \(10, 1\) but idx has \(10, 2\)"),
    (with_("idx", lambda i: i[:, 0]), r"idx must be 2-D"),
    (with_("idx", lambda i: set_at(i, (4, 1), 4)), r"latent id 4 at row 4, outside \[0, 4\)"),
    (with_("idx", lambda i: set_at(i, (2, 0), -1)), r"latent id -1 at row 2"),
    (with_("idx", lambda i: i.astype(np.float32)), r"idx must hold integer latent ids"),
    (with_("val", lambda v: set_at(v, (3, 1), np.nan)), r"NaN activation \(nan\) at row 3"),
    (with_("val", lambda v: set_at(v, (5, 0), np.inf)), r"infinite activation .* at row 5"),
    (with_("val", lambda v: set_at(v, (9, 1), -1.0)), r"negative activation .* at row 9"),
    (with_("val", lambda v: v.astype(np.float32)), r"val must be float16"),
    (with_("row_doc", lambda d: d[:-1]), r"row_doc must be integers of shape \(10,\)"),
    (with_("row_doc", lambda d: d + 1), r"row_doc has document 3 at row 7, outside \[0, 3\)"),
    (with_("selected", lambda s: s.astype(np.int8)), r"selected must be bool"),
    (with_("chosen_weight", lambda w: w[:2]), r"must be 1-D of one length"),
    (with_("rejected_weight", lambda w: w * np.nan), r"rejected_weight has NaN"),
    (with_("chosen_weight", lambda w: -w), r"chosen_weight has NaN, infinite or negative"),
]


@pytest.mark.parametrize(("corrupt", "message"), BAD_INPUTS)
def test_bad_inputs_raise_analysis_error(corrupt: Callable[[Codes], Codes], message: str) -> None:
    with pytest.raises(AnalysisError, match=message) as caught:
        stats_of(corrupt(tiny_codes()), chunk_rows=3)
    assert caught.value.hint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_latents": 1}, r"k \(2\) is larger than n_latents \(1\)"),
        ({"n_latents": 0}, r"n_latents must be at least 1"),
        ({"n_bins": 0}, r"n_bins must be at least 1"),
        ({"chunk_rows": 0}, r"chunk_rows must be at least 1"),
    ],
)
def test_bad_parameters_raise_analysis_error(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        stats_of(tiny_codes(), **kwargs)
