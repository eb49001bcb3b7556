"""Which features fire on a word: the way into a feature table of thousands when one knows
what to look for ("sorry", "cannot", "bomb").

Every stored token whose text piece matches the query counts as a hit. A feature's lift is
its mean activation on the hits minus its mean activation on all stored tokens, so features
that fire everywhere do not crowd out the ones specific to the word. One chunked pass over
the codes; no Python loop over tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safer_engine.analysis.code_chunks import read_rows
from safer_engine.errors import AnalysisError
from safer_engine.progress import CancelToken, Progress, no_progress

CHUNK_ROWS = 262_144
TOP = 200


@dataclass(frozen=True)
class WordMatches:
    """The features that fire most specifically on the tokens matching a query."""

    query: str
    pieces: list[str]
    """The distinct vocabulary pieces that matched."""
    hits: int
    """Stored tokens whose piece matched."""
    features: np.ndarray
    """Feature ids, highest lift first (only features with positive lift)."""
    lift: np.ndarray
    mean_on_hits: np.ndarray
    fire_rate: np.ndarray
    """The fraction of hits on which the feature fires."""


def matching_pieces(pieces: list[str], query: str) -> np.ndarray:
    """Token ids whose piece equals a query word (any case, spaces and `##` ignored);
    a word ending in `*` matches every piece that starts with it."""
    words = [w.lower() for w in query.split()]
    if not words:
        raise AnalysisError("The word search is empty.", "Type a word, e.g. sorry or apolog*.")
    exact = {w for w in words if not w.endswith("*")}
    prefixes = tuple(w[:-1] for w in words if w.endswith("*") and len(w) > 1)
    ids = [
        i
        for i, piece in enumerate(pieces)
        if (text := piece.strip().removeprefix("##").lower())
        and (text in exact or (prefixes and text.startswith(prefixes)))
    ]
    return np.asarray(ids, dtype=np.int64)


def features_on_word(
    pieces: list[str],
    token_ids: np.ndarray,
    token_row: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    n_latents: int,
    query: str,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> WordMatches:
    """Rank features by lift on the stored tokens matching `query`.

    `pieces` is the text of every token id, `token_ids` the stored tokens, `token_row` the
    token of each code row and `idx`/`val` the codes.
    """
    cancel = cancel or CancelToken()
    ids = matching_pieces(pieces, query)
    is_match = np.zeros(len(pieces), dtype=bool)
    is_match[ids] = True
    sums_all = np.zeros(n_latents, dtype=np.float64)
    sums_hit = np.zeros(n_latents, dtype=np.float64)
    fires_hit = np.zeros(n_latents, dtype=np.float64)
    rows, hits = int(idx.shape[0]), 0
    for start in range(0, rows, CHUNK_ROWS):
        cancel.check("the word search")
        progress("word search", start, rows)
        chunk = slice(start, start + CHUNK_ROWS)
        codes = read_rows(idx, start, start + CHUNK_ROWS)  # a map would stay resident
        values = read_rows(val, start, start + CHUNK_ROWS).astype(np.float64)
        sums_all += np.bincount(codes.ravel(), values.ravel(), minlength=n_latents)
        tokens = np.asarray(token_ids)[np.asarray(token_row[chunk])]
        hit = is_match[tokens]
        if hit.any():
            hits += int(hit.sum())
            sums_hit += np.bincount(codes[hit].ravel(), values[hit].ravel(), minlength=n_latents)
            fired = (values[hit] > 0).ravel()
            fires_hit += np.bincount(codes[hit].ravel()[fired], minlength=n_latents)
    progress("word search", rows, rows)
    return _ranked(query, [pieces[i] for i in ids], hits, rows, sums_all, sums_hit, fires_hit)


def _ranked(
    query: str,
    pieces: list[str],
    hits: int,
    rows: int,
    sums_all: np.ndarray,
    sums_hit: np.ndarray,
    fires_hit: np.ndarray,
) -> WordMatches:
    mean_hit = sums_hit / max(hits, 1)
    lift = mean_hit - sums_all / max(rows, 1)
    order = np.argsort(-lift, kind="stable")[:TOP]
    order = order[lift[order] > 0] if hits else order[:0]
    return WordMatches(
        query=query,
        pieces=pieces,
        hits=hits,
        features=order.astype(np.int64),
        lift=lift[order],
        mean_on_hits=mean_hit[order],
        fire_rate=fires_hit[order] / max(hits, 1),
    )
