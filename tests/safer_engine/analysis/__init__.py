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

import numpy as np

N_LATENTS = 4


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
