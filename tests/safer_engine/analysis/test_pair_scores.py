from __future__ import annotations

import numpy as np

from safer_engine.analysis.pair_scores import (
    feature_weights,
    pair_scores,
    response_scores,
)


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
