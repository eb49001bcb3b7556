from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from safer_engine.analysis import feature_index
from safer_engine.analysis.feature_index import build_feature_index, quantile_samples
from safer_engine.errors import AnalysisError
from tests.safer_engine.analysis import N_LATENTS, Codes, random_codes, set_at, tiny_codes


def brute_index(c: Codes, n_latents: int, keep: int | None) -> list[list[tuple[float, int]]]:
    """Per feature, (activation, row) of its nonzero codes, strongest first, ties by row."""
    found: list[list[tuple[float, int]]] = [[] for _ in range(n_latents)]
    for row in range(c["idx"].shape[0]):
        for f, v in zip(c["idx"][row].tolist(), c["val"][row].astype(float).tolist(), strict=True):
            if v > 0:
                found[f].append((-v, row))
    return [[(-v, r) for v, r in sorted(entries)[:keep]] for entries in found]


def index_lists(
    index: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> list[list[tuple[float, int]]]:
    offsets, rows, vals = index
    return [
        list(zip(vals[a:b].astype(float).tolist(), rows[a:b].tolist(), strict=True))
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    ]


# --- build_feature_index -------------------------------------------------------------------


def test_index_by_hand() -> None:
    c = tiny_codes()
    offsets, rows, vals = build_feature_index(c["idx"], c["val"], N_LATENTS)
    assert offsets.tolist() == [0, 4, 9, 13, 17]
    assert offsets.dtype == rows.dtype == np.int64 and vals.dtype == np.float16
    # strongest first; latent 1's three 1.0s (rows 0, 3, 5) tie and go by row
    assert rows.tolist() == [0, 3, 1, 8, 4, 6, 0, 3, 5, 7, 4, 8, 1, 2, 9, 7, 5]
    assert vals.tolist() == [5, 2, 1, 0.5, 3, 2, 1, 1, 1, 4, 1, 1, 0.5, 2, 1.5, 1, 0.5]
    offsets, rows, _ = build_feature_index(c["idx"], c["val"], N_LATENTS, max_per_feature=3)
    assert offsets.tolist() == [0, 3, 6, 9, 12]
    assert rows.tolist() == [0, 3, 1, 4, 6, 0, 7, 4, 8, 2, 9, 7]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("keep", [None, 1, 2, 5, 10, 1000])
def test_index_matches_brute_force(keep: int | None, ties: bool) -> None:
    codes = random_codes(4, ties, n_rows=200)
    index = build_feature_index(codes["idx"], codes["val"], 6, keep, chunk_rows=9)
    assert index_lists(index) == brute_index(codes, 6, keep)


def test_index_chunked_equals_unchunked() -> None:
    codes = random_codes(5, ties=True)
    whole = build_feature_index(codes["idx"], codes["val"], 6, 4, chunk_rows=1_000)
    for chunk_rows in (1, 3):
        parts = build_feature_index(codes["idx"], codes["val"], 6, 4, chunk_rows=chunk_rows)
        for a, b in zip(parts, whole, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("keep", "passes"), [(2, 2), (300, 1)])
def test_index_refines_crowded_thresholds(
    keep: int, passes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # activations in [1, 2): one octave, so the coarse pass leaves crowded boundary bins
    rng = np.random.default_rng(6)
    codes: Codes = {
        "idx": rng.integers(0, 3, (400, 2)).astype(np.int32),
        "val": (1 + rng.random((400, 2))).astype(np.float16),
    }
    calls = []
    original = feature_index._bit_hist

    def counted(*args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(kwargs["within"] is not None)
        return original(*args, **kwargs)

    monkeypatch.setattr(feature_index, "_bit_hist", counted)
    index = build_feature_index(codes["idx"], codes["val"], 3, keep, chunk_rows=50)
    assert len(calls) == passes
    assert index_lists(index) == brute_index(codes, 3, keep)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_per_feature": 0}, r"max_per_feature must be at least 1"),
        ({"n_latents": 1}, r"k \(2\) is larger than n_latents"),
    ],
)
def test_index_bad_parameters(kwargs: dict[str, int], message: str) -> None:
    c = tiny_codes()
    with pytest.raises(AnalysisError, match=message):
        build_feature_index(c["idx"], c["val"], **{"n_latents": N_LATENTS, **kwargs})


def test_index_rejects_bad_codes() -> None:
    c = tiny_codes()
    with pytest.raises(AnalysisError, match=r"no codes per row \(k = 0\)"):
        build_feature_index(c["idx"][:, :0], c["val"][:, :0], N_LATENTS)
    with pytest.raises(AnalysisError, match="NaN activation"):
        build_feature_index(c["idx"], set_at(c["val"], (1, 1), np.nan), N_LATENTS, 2)
    with pytest.raises(AnalysisError, match="latent id 7"):
        build_feature_index(set_at(c["idx"], (1, 1), 7), c["val"], N_LATENTS)


# --- quantile_samples ----------------------------------------------------------------------


def test_quantile_samples_read_around_each_quantile() -> None:
    c = tiny_codes()
    index = build_feature_index(c["idx"], c["val"], N_LATENTS)
    # latent 1, strongest first: rows 4 (3.0), 6 (2.0), 0, 3, 5 (1.0 each)
    one = quantile_samples(*index, feature=1, n_per_quantile=1, quantiles=(1.0, 0.5, 0.0))
    assert one.rows.tolist() == [4, 0, 5]
    assert one.rank.tolist() == [0, 2, 4]
    assert one.quantile.tolist() == [1.0, 0.5, 0.0]
    assert one.vals.tolist() == [3.0, 1.0, 1.0]
    # windows of two overlap at rank 1; it is reported once, for the first quantile
    two = quantile_samples(*index, feature=1, n_per_quantile=2, quantiles=(1.0, 0.5, 0.0))
    assert two.rank.tolist() == [0, 1, 2, 3, 4]
    assert two.quantile.tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]


def test_quantile_samples_of_an_empty_feature_and_bad_requests() -> None:
    c = tiny_codes()
    index = build_feature_index(np.zeros((2, 1), np.int32), np.ones((2, 1), np.float16), 3)
    assert quantile_samples(*index, feature=2).rows.size == 0
    index = build_feature_index(c["idx"], c["val"], N_LATENTS)
    with pytest.raises(AnalysisError, match=r"Feature 4 is outside \[0, 4\)"):
        quantile_samples(*index, feature=4)
    with pytest.raises(AnalysisError, match="Bad quantile request"):
        quantile_samples(*index, feature=0, quantiles=(1.5,))
