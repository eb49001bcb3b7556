from __future__ import annotations

import numpy as np
import pytest

from safer_engine.analysis.pair_scores import (
    feature_weights,
    pair_scores,
    response_scores,
)
from safer_engine.errors import Cancelled
from safer_engine.progress import CancelToken


def test_scores_equal_a_hand_computation() -> None:
    # 2 docs; k=2; features: 0 safe, 1 unsafe, 2 untagged
    idx = np.array([[0, 2], [1, 0], [2, 1], [0, 1], [1, 2]])
    val = np.array([[2.0, 9.0], [1.0, 3.0], [5.0, 4.0], [1.0, 1.0], [6.0, 7.0]], np.float16)
    row_doc = np.array([0, 0, 0, 1, 1])
    selected = np.array([True, True, False, True, True])
    weights = feature_weights(3, safe=[0], unsafe=[1])
    scores = response_scores(idx, val, row_doc, selected, 2, weights)
    # doc 0, selected rows 0 and 1: (2) and (3 − 1) → mean (2 + 2) / 2 = 2.0
    # doc 1, rows 3 and 4: (1 − 1) and (−6) → mean −3.0
    assert np.allclose(scores, [2.0, -3.0])
    assert np.allclose(pair_scores(scores, np.array([0, 1]), np.array([1, 0])), [5.0, -5.0])


def test_documents_without_selected_tokens_score_zero_and_chunks_agree() -> None:
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 20, (500, 4))
    val = rng.random((500, 4)).astype(np.float16)
    row_doc = np.sort(rng.integers(0, 30, 500))
    selected = rng.random(500) < 0.3
    weights = feature_weights(20, safe=[1, 2], unsafe=[3])
    import safer_engine.analysis.pair_scores as module

    whole = response_scores(idx, val, row_doc, selected, 31, weights)
    module.CHUNK_ROWS, saved = 7, module.CHUNK_ROWS
    try:
        chunked = response_scores(idx, val, row_doc, selected, 31, weights)
    finally:
        module.CHUNK_ROWS = saved
    assert np.allclose(whole, chunked)
    assert whole[30] == 0.0  # doc 30 has no rows


Codes = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def random_codes(rows: int) -> Codes:
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 20, (rows, 4))
    val = rng.random((rows, 4)).astype(np.float16)
    row_doc = np.sort(rng.integers(0, 30, rows))
    selected = rng.random(rows) < 0.5
    return idx, val, row_doc, selected


def test_progress_is_reported_per_chunk_up_to_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    import safer_engine.analysis.pair_scores as module

    monkeypatch.setattr(module, "CHUNK_ROWS", 100)
    seen: list[tuple[str, int, int | None]] = []
    response_scores(
        *random_codes(450),
        30,
        feature_weights(20, [1], [2]),
        progress=lambda task, done, total: seen.append((task, done, total)),
    )
    assert [done for _, done, _ in seen] == [0, 100, 200, 300, 400, 450]
    assert {task for task, _, _ in seen} == {"scoring pairs"}
    assert {total for _, _, total in seen} == {450}


def test_cancel_stops_between_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import safer_engine.analysis.pair_scores as module

    monkeypatch.setattr(module, "CHUNK_ROWS", 100)
    cancel = CancelToken()
    seen: list[int] = []

    def cancel_after_two(task: str, done: int, total: int | None) -> None:
        seen.append(done)
        if len(seen) == 2:
            cancel.cancel()  # as the explorer does from its UI thread while this runs

    with pytest.raises(Cancelled):
        response_scores(
            *random_codes(450), 30, feature_weights(20, [1], [2]), cancel_after_two, cancel
        )
    assert seen == [0, 100]  # the third chunk never started


def test_a_cancelled_token_stops_before_any_work() -> None:
    cancel = CancelToken()
    cancel.cancel()
    seen: list[int] = []
    with pytest.raises(Cancelled):
        response_scores(
            *random_codes(50),
            30,
            feature_weights(20, [1], []),
            lambda task, done, total: seen.append(done),
            cancel,
        )
    assert seen == []


def test_tags_of_features_the_sae_lacks_weigh_nothing() -> None:
    from safer_engine.analysis.pair_scores import feature_weights

    weights = feature_weights(4, safe=[1, 99999], unsafe=[-3, 2])
    assert weights.tolist() == [0.0, 1.0, -1.0, 0.0]
