from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from safer_engine.analysis.feature_stats import FeatureStats, feature_stats
from safer_engine.analysis.salience import salience, salience_table, top_candidates
from safer_engine.errors import AnalysisError
from tests.safer_engine.analysis import N_LATENTS, tiny_codes

COLUMNS = [
    "feature",
    "salience",
    "abs_salience",
    "rank",
    "sign",
    "sum_chosen",
    "sum_rejected",
    "mean_act_chosen",
    "mean_act_rejected",
    "mean_act_diff",
    "fire_rate_chosen",
    "fire_rate_rejected",
    "firing_rate_diff",
    "max_act",
    "density",
    "sum_chosen_all",
    "sum_rejected_all",
    "mean_act_chosen_all",
    "mean_act_rejected_all",
    "fire_rate_chosen_all",
    "fire_rate_rejected_all",
    "tokens_chosen",
    "tokens_rejected",
    "tokens_chosen_all",
    "tokens_rejected_all",
]


def stats_from_sums(
    sum_chosen: list[float], sum_rejected: list[float], tokens: tuple[float, float] = (1, 1)
) -> FeatureStats:
    n = len(sum_chosen)
    zeros = np.zeros(n, dtype=np.float32)
    return FeatureStats(
        sum_chosen=np.array(sum_chosen, dtype=np.float64),
        sum_rejected=np.array(sum_rejected, dtype=np.float64),
        fires_chosen=np.zeros(n),
        fires_rejected=np.zeros(n),
        tokens_chosen=tokens[0],
        tokens_rejected=tokens[1],
        max_act=zeros,
        density=zeros,
        hist=np.zeros((n, 2), dtype=np.int64),
        hist_edges=np.array([0.0, 0.5, 1.0], dtype=np.float32),
        n_rows=0,
        sum_chosen_all=np.array(sum_chosen, dtype=np.float64),
        sum_rejected_all=np.array(sum_rejected, dtype=np.float64),
        fires_chosen_all=np.zeros(n),
        fires_rejected_all=np.zeros(n),
        tokens_chosen_all=tokens[0],
        tokens_rejected_all=tokens[1],
    )


def tiny_table() -> pl.DataFrame:
    codes: dict[str, Any] = tiny_codes()
    return salience_table(feature_stats(n_latents=N_LATENTS, **codes))


def test_salience_matches_a_hand_computation() -> None:
    table = tiny_table()
    assert table.columns == COLUMNS
    # A_c = [6.5, 2, 2, 1.5], A_r = [0.5, 4, 1, 1.5] (worked out in test_features: doc0 is
    # chosen in two pairs and counts twice); m = (12 + 7) / 8 = 2.375, so 2m = 4.75
    expected = {
        0: (6.5 - 0.5) / (6.5 + 0.5 + 4.75),  # 0.5106
        1: (2.0 - 4.0) / (2.0 + 4.0 + 4.75),  # −0.1860
        2: (2.0 - 1.0) / (2.0 + 1.0 + 4.75),  # 0.1290
        3: 0.0,  # equal sums: no lean
    }
    assert table["feature"].to_list() == [0, 1, 2, 3]  # already in rank order
    assert table["rank"].to_list() == [1, 2, 3, 4]
    np.testing.assert_allclose(table["salience"].to_numpy(), list(expected.values()))
    np.testing.assert_allclose(table["abs_salience"].to_numpy(), np.abs(list(expected.values())))
    assert table["sign"].to_list() == ["safe", "unsafe", "safe", "none"]
    assert table["sum_chosen"].to_list() == [6.5, 2.0, 2.0, 1.5]
    assert table["sum_rejected"].to_list() == [0.5, 4.0, 1.0, 1.5]


def test_rate_variants_match_a_hand_computation() -> None:
    table = tiny_table()
    # T_c = 2·2 (doc0) + 1·2 (doc2) = 6 and T_r = 2·1 (doc1) + 1·2 (doc2) = 4 selected tokens
    act_c = [6.5 / 6, 2 / 6, 2 / 6, 1.5 / 6]
    act_r = [0.5 / 4, 4 / 4, 1 / 4, 1.5 / 4]
    np.testing.assert_allclose(table["mean_act_chosen"].to_numpy(), act_c)
    np.testing.assert_allclose(table["mean_act_rejected"].to_numpy(), act_r)
    np.testing.assert_allclose(
        table["mean_act_diff"].to_numpy(), [0.958333, -0.666667, 0.083333, -0.125], atol=1e-6
    )
    # weighted firing tokens: chosen [5, 2, 3, 1], rejected [1, 2, 1, 1]
    np.testing.assert_allclose(table["fire_rate_chosen"].to_numpy(), [5 / 6, 2 / 6, 3 / 6, 1 / 6])
    np.testing.assert_allclose(table["fire_rate_rejected"].to_numpy(), [0.25, 0.5, 0.25, 0.25])
    np.testing.assert_allclose(
        table["firing_rate_diff"].to_numpy(), [0.583333, -0.166667, 0.25, -0.083333], atol=1e-6
    )
    assert table["max_act"].to_list() == [5.0, 3.0, 4.0, 2.0]
    np.testing.assert_allclose(table["density"].to_numpy(), [0.4, 0.5, 0.4, 0.4])


def test_all_token_columns_match_a_hand_computation() -> None:
    table = tiny_table()
    # over every row (worked out in test_feature_stats): 11 chosen and 9 rejected tokens
    assert table["tokens_chosen_all"].to_list() == [11.0] * 4
    assert table["tokens_rejected_all"].to_list() == [9.0] * 4
    assert (table["tokens_chosen"][0], table["tokens_rejected"][0]) == (6.0, 4.0)
    assert table["sum_chosen_all"].to_list() == [16.5, 4.0, 6.0, 6.5]
    assert table["sum_rejected_all"].to_list() == [0.5, 12.0, 7.0, 3.5]
    np.testing.assert_allclose(
        table["mean_act_chosen_all"].to_numpy(), [16.5 / 11, 4 / 11, 6 / 11, 6.5 / 11]
    )
    np.testing.assert_allclose(
        table["mean_act_rejected_all"].to_numpy(), [0.5 / 9, 12 / 9, 7 / 9, 3.5 / 9]
    )
    np.testing.assert_allclose(
        table["fire_rate_chosen_all"].to_numpy(), [7 / 11, 4 / 11, 4 / 11, 4 / 11]
    )
    np.testing.assert_allclose(
        table["fire_rate_rejected_all"].to_numpy(), [1 / 9, 6 / 9, 4 / 9, 4 / 9]
    )


def test_rank_orders_by_abs_salience_then_feature_id() -> None:
    # features 1 and 3 tie on |s| = 2/4.25; 0 has the largest |s|; 2 has none
    table = salience_table(stats_from_sums([0.0, 2.0, 1.0, 0.0], [3.0, 0.0, 1.0, 2.0]))
    # m = 9/8; s0 = −3/(3 + 2.25), s1 = 2/(2 + 2.25), s3 = −2/(2 + 2.25), s2 = 0
    assert table["feature"].to_list() == [0, 1, 3, 2]
    assert table["rank"].to_list() == [1, 2, 3, 4]
    assert table["sign"].to_list() == ["unsafe", "safe", "unsafe", "none"]
    assert table["salience"][0] == pytest.approx(-3 / 5.25)


def test_nothing_fires() -> None:
    table = salience_table(stats_from_sums([0.0, 0.0], [0.0, 0.0], tokens=(0, 0)))
    assert table["salience"].to_list() == [0.0, 0.0]
    assert table["sign"].to_list() == ["none", "none"]
    assert table["mean_act_diff"].to_list() == [0.0, 0.0]
    assert top_candidates(table).is_empty()


def test_top_candidates() -> None:
    table = tiny_table()
    top = top_candidates(table.sort("feature", descending=True), n=2)
    assert top["feature"].to_list() == [0, 1]
    assert top.columns == COLUMNS
    assert top_candidates(table)["feature"].to_list() == [0, 1, 2]  # 3 never leans
    assert top_candidates(table, n=0).is_empty()
    with pytest.raises(AnalysisError, match="n must be ≥ 0"):
        top_candidates(table, n=-1)
    with pytest.raises(AnalysisError, match=r"lacks the columns \['rank'\]"):
        top_candidates(table.drop("rank"))


def test_salience_rejects_mismatched_sums() -> None:
    with pytest.raises(AnalysisError, match="must be 1-D of one length"):
        salience(np.zeros(3), np.zeros(4))
    with pytest.raises(AnalysisError, match="NaN or infinite"):
        salience(np.array([np.nan]), np.zeros(1))
