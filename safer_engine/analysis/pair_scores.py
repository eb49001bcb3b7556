"""Pair scores from the safe (P) and unsafe (N) feature sets.

For a response r with selected tokens T_r: S(r) = (1/|T_r|) Σ_t [Σ_{j∈P} z_j(t) − Σ_{j∈N} z_j(t)],
P the features tagged safe and N those tagged unsafe; score(pair) = S(chosen) − S(rejected).
A high score means the pair's label agrees strongly with the safety features. Vectorised over
codes in chunks: no Python loop over tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from safer_engine.progress import CancelToken, Progress, no_progress

CHUNK_ROWS = 65_536
SCORING_TASK = "scoring pairs"


def feature_weights(n_latents: int, safe: Iterable[int], unsafe: Iterable[int]) -> np.ndarray:
    """+1 for safe features, −1 for unsafe ones, 0 elsewhere."""
    weights = np.zeros(n_latents, dtype=np.float32)
    # Tags are imported from CSV and may name features this SAE does not have: they weigh 0.
    weights[[f for f in safe if 0 <= f < n_latents]] = 1.0
    weights[[f for f in unsafe if 0 <= f < n_latents]] = -1.0
    return weights


def response_scores(
    idx: np.ndarray,
    val: np.ndarray,
    row_doc: np.ndarray,
    selected: np.ndarray,
    n_docs: int,
    weights: np.ndarray,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """S(r) for every document: the mean weighted code over its selected tokens (0 if none).

    A pass over every code row (seconds on a large store), so it reports progress and stops
    between chunks when `cancel` is set, raising `Cancelled`.
    """
    cancel = cancel or CancelToken()
    n_rows = int(idx.shape[0])
    totals = np.zeros(n_docs, dtype=np.float64)
    counts = np.zeros(n_docs, dtype=np.float64)
    for start in range(0, n_rows, CHUNK_ROWS):
        cancel.check(SCORING_TASK)
        progress(SCORING_TASK, start, n_rows)
        chunk = slice(start, start + CHUNK_ROWS)
        keep = np.asarray(selected[chunk])
        if not keep.any():
            continue
        codes = np.asarray(idx[chunk])[keep]
        values = np.asarray(val[chunk])[keep].astype(np.float32)
        row_scores = (weights[codes] * values).sum(axis=1)
        docs = np.asarray(row_doc[chunk])[keep]
        totals += np.bincount(docs, weights=row_scores, minlength=n_docs)
        counts += np.bincount(docs, minlength=n_docs)
    progress(SCORING_TASK, n_rows, n_rows)
    return np.divide(totals, counts, out=np.zeros(n_docs), where=counts > 0)


def pair_scores(
    doc_scores: np.ndarray, chosen_doc: np.ndarray, rejected_doc: np.ndarray
) -> np.ndarray:
    return doc_scores[chosen_doc] - doc_scores[rejected_doc]
