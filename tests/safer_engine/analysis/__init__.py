"""A hand-made store of SAE codes shared by the analysis tests.

3 documents, 10 rows, k=2, 4 latents. Pairs: (chosen doc0, rejected doc1), (chosen doc0,
rejected doc2), (chosen doc2, rejected doc1), so doc0 is chosen twice and doc2 is on both sides:
chosen_weight = [2, 0, 1], rejected_weight = [0, 2, 1].

    row doc sel  codes (latent: activation)
      0   0   .  0: 5.0   1: 1.0
      1   0   S  0: 1.0   2: 0.5
      2   0   .  3: 2.0   1: 0.0   (zero: padding)
      3   0   S  0: 2.0   1: 1.0
      4   1   .  1: 3.0   2: 1.0
      5   1   .  1: 1.0   3: 0.5
      6   1   S  1: 2.0   2: 0.0   (zero: latent 2 does not fire here)
      7   2   .  2: 4.0   3: 1.0
      8   2   S  2: 1.0   0: 0.5
      9   2   S  3: 1.5   1: 0.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

N_LATENTS = 4
Codes = dict[str, Any]


def tiny_codes() -> dict[str, np.ndarray]:
    """The store above as `feature_stats` keyword arguments (without n_latents)."""
    codes = [
        [(0, 5.0), (1, 1.0)],
        [(0, 1.0), (2, 0.5)],
        [(3, 2.0), (1, 0.0)],
        [(0, 2.0), (1, 1.0)],
        [(1, 3.0), (2, 1.0)],
        [(1, 1.0), (3, 0.5)],
        [(1, 2.0), (2, 0.0)],
        [(2, 4.0), (3, 1.0)],
        [(2, 1.0), (0, 0.5)],
        [(3, 1.5), (1, 0.0)],
    ]
    return {
        "idx": np.array([[i for i, _ in row] for row in codes], dtype=np.int32),
        "val": np.array([[v for _, v in row] for row in codes], dtype=np.float16),
        "row_doc": np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2], dtype=np.int64),
        "selected": np.array([0, 1, 0, 1, 0, 0, 1, 0, 1, 1], dtype=bool),
        "chosen_weight": np.array([2.0, 0.0, 1.0]),
        "rejected_weight": np.array([0.0, 2.0, 1.0]),
    }


def random_codes(seed: int, ties: bool, n_rows: int = 60, k: int = 3, n_latents: int = 6) -> Codes:
    """Random codes with ~25% zero padding; `ties` draws activations from a few values."""
    rng = np.random.default_rng(seed)
    n_docs = 7
    if ties:
        val = rng.integers(0, 6, (n_rows, k)) / 2
    else:
        val = rng.random((n_rows, k)) * 4 * (rng.random((n_rows, k)) > 0.25)
    return {
        "idx": rng.integers(0, n_latents, (n_rows, k)).astype(np.int32),
        "val": val.astype(np.float16),
        "row_doc": np.sort(rng.integers(0, n_docs, n_rows)),
        "selected": rng.random(n_rows) < 0.4,
        "chosen_weight": rng.integers(0, 4, n_docs).astype(np.float64),
        "rejected_weight": rng.integers(0, 4, n_docs).astype(np.float64),
    }


def with_(name: str, make: Callable[[np.ndarray], Any]) -> Callable[[Codes], Codes]:
    return lambda c: dict(c, **{name: make(c[name])})


def set_at(a: np.ndarray, where: tuple[int, int], value: float) -> np.ndarray:
    a = a.copy()
    a[where] = value
    return a
