"""Pair scores from the safe (P) and unsafe (N) feature sets.

For a response r with selected tokens T_r: S(r) = (1/|T_r|) Σ_t [Σ_{j∈P} z_j(t) − Σ_{j∈N} z_j(t)],
P the features tagged safe and N those tagged unsafe; score(pair) = S(chosen) − S(rejected).
A high score means the pair's label agrees strongly with the safety features. Vectorised over
codes in chunks: no Python loop over tokens.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from safer_engine.analysis.code_chunks import read_rows
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
    """S(r) for every document: the mean weighted code over its selected tokens (0 if none)."""
    features = np.flatnonzero(weights)
    means = doc_feature_means(
        idx, val, row_doc, selected, n_docs, features, len(weights), progress, cancel
    )
    return means @ weights[features].astype(np.float64)


def doc_feature_means(
    idx: np.ndarray,
    val: np.ndarray,
    row_doc: np.ndarray,
    selected: np.ndarray,
    n_docs: int,
    features: np.ndarray,
    n_latents: int,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """float64 [n_docs, len(features)]: each feature's mean activation over each document's
    selected tokens (0 for a document without any); `features` are latent ids < n_latents.

    A pass over every code row (seconds on a large store), so it reports progress and stops
    between chunks when `cancel` is set, raising `Cancelled`.
    """
    cancel = cancel or CancelToken()
    column = np.full(n_latents, -1, dtype=np.int64)
    column[np.asarray(features, dtype=np.int64)] = np.arange(len(features))
    width = max(len(features), 1)
    totals = np.zeros(n_docs * width, dtype=np.float64)
    counts = np.zeros(n_docs, dtype=np.float64)
    n_rows = int(idx.shape[0])
    for start in range(0, n_rows, CHUNK_ROWS):
        cancel.check(SCORING_TASK)
        progress(SCORING_TASK, start, n_rows)
        stop = start + CHUNK_ROWS
        keep = np.asarray(selected[start:stop])
        if not keep.any():
            continue
        docs = np.asarray(row_doc[start:stop])[keep]
        # A chunk's rows belong to a few neighbouring documents (rows are stored in
        # document order): sums go into their block only, not into fresh n_docs-long arrays.
        first, last = int(docs.min()), int(docs.max()) + 1
        counts[first:last] += np.bincount(docs - first, minlength=last - first)
        cols = column[read_rows(idx, start, stop)[keep]]
        hit = cols >= 0
        if hit.any():
            values = read_rows(val, start, stop)[keep].astype(np.float64)
            keys = ((docs[:, None] - first) * width + cols)[hit]
            block = slice(first * width, last * width)
            totals[block] += np.bincount(
                keys, weights=values[hit], minlength=(last - first) * width
            )
    progress(SCORING_TASK, n_rows, n_rows)
    means = totals.reshape(n_docs, width)[:, : len(features)]
    return np.divide(means, counts[:, None], out=np.zeros_like(means), where=counts[:, None] > 0)


def pair_contributions(
    means: np.ndarray, signs: np.ndarray, chosen_doc: np.ndarray, rejected_doc: np.ndarray
) -> np.ndarray:
    """float64 [n_pairs, len(signs)]: each feature's part of each pair's score, so a row sums
    to score(pair) = S(chosen) − S(rejected)."""
    return (means[chosen_doc] - means[rejected_doc]) * signs[None, :]


def top_contributors(contributions: np.ndarray, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the columns of its `n` largest contributions by size and their shares of the
    sum of all contributions' sizes (signed: a share below 0 works against the score)."""
    n = min(n, contributions.shape[1])
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :n]
    picked = np.take_along_axis(contributions, order, axis=1)
    total = np.abs(contributions).sum(axis=1, keepdims=True)
    shares = np.divide(picked, total, out=np.zeros_like(picked), where=total > 0)
    return order, shares


def pair_scores(
    doc_scores: np.ndarray, chosen_doc: np.ndarray, rejected_doc: np.ndarray
) -> np.ndarray:
    """score(pair) = S(chosen) − S(rejected) for every pair."""
    return doc_scores[chosen_doc] - doc_scores[rejected_doc]
