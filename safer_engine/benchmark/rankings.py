"""Each method's suspicion of every noisy train pair (higher: more likely mislabelled).

- safer: minus the pair score (the labels the safety features contradict most first);
- margin: minus the noisy reward model's own margin r(chosen) − r(rejected);
- cleanlab: minus cleanlab's label-quality score from out-of-fold probabilities
  P(chosen ≻ rejected) = σ(margin) of reward models that never saw the pair;
- random: a seeded draw.

cleanlab works on classification labels and refuses a single class, while every pair's given
label says the same thing: "chosen is better". So each pair is shown to it twice, as
(chosen, rejected) labelled 1 with probabilities (1 − p, p) and as (rejected, chosen) labelled
0 with (p, 1 − p). A Bradley–Terry model is antisymmetric, so the mirror adds no information:
cleanlab gives both copies the same label-quality score, p, and flags both or neither.
"""

from __future__ import annotations

import numpy as np

from safer_engine.benchmark.noise import FOLD_STREAM, RANDOM_STREAM
from safer_engine.errors import BenchmarkError

CLEANLAB_HINT = "Leave cleanlab out of --methods, or train the fold models longer (--epochs)."


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))


def folds_of(count: int, folds: int, seed: int) -> np.ndarray:
    """A seeded fold (0 … folds − 1) for each of `count` pairs (in the caller's pair-id
    order), the folds as equal as can be."""
    if count < folds:
        raise BenchmarkError(
            f"{count} train pairs cannot be split into {folds} folds.",
            "Use fewer --folds, or more data.",
        )
    order = np.random.default_rng([seed, FOLD_STREAM]).permutation(count)
    fold = np.empty(count, dtype=np.int64)
    fold[order] = np.arange(count) % folds
    return fold


def random_suspicion(count: int, seed: int) -> np.ndarray:
    """The random method: a draw of its own for each seed."""
    return np.random.default_rng([seed, RANDOM_STREAM]).random(count)


def require_cleanlab() -> None:
    """A clear error, before any training, when the cleanlab package is missing."""
    try:
        import cleanlab  # noqa: F401
    except ImportError as exc:
        raise BenchmarkError(
            "The cleanlab method needs the cleanlab package, which is not installed.",
            "Install it (`pip install cleanlab`) or leave cleanlab out of --methods.",
        ) from exc


def cleanlab_issues(labels: np.ndarray, pred_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's `find_label_issues` mask and `get_label_quality_scores` (self-confidence) of
    each example, with cleanlab's refusals as a `BenchmarkError`."""
    require_cleanlab()
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels)
    present = sorted(set(labels.tolist()))
    if len(present) < 2:
        raise BenchmarkError(
            f"cleanlab needs labels of both classes, and every label here is {present}.",
            "Give each pair twice, as (chosen, rejected) labelled 1 and mirrored as "
            "(rejected, chosen) labelled 0 (cleanlab_quality does).",
        )
    try:
        issues = find_label_issues(labels, pred_probs)
        quality = get_label_quality_scores(labels, pred_probs)
    except ValueError as exc:
        raise BenchmarkError(f"cleanlab cannot rank these pairs: {exc}", CLEANLAB_HINT) from exc
    return np.asarray(issues, dtype=bool), np.asarray(quality, dtype=np.float64)


def cleanlab_quality(p_chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's label-quality score and whether cleanlab flags it as a label issue, from
    the probability that its chosen response is the better one."""
    p = np.asarray(p_chosen, dtype=np.float64)
    if p.ndim != 1 or p.size < 2:
        raise BenchmarkError(
            f"cleanlab needs at least two pairs' probabilities, not {p.size}.",
            "Run the benchmark on more safety train pairs.",
        )
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise BenchmarkError(
            "An out-of-fold probability is not a number between 0 and 1.", CLEANLAB_HINT
        )
    if np.ptp(p) == 0:
        raise BenchmarkError(
            f"Every pair has the same out-of-fold probability ({p[0]:.3f}): all on one side "
            "of every threshold, so cleanlab cannot tell one pair from another.",
            CLEANLAB_HINT,
        )
    count = p.size
    labels = np.r_[np.ones(count, dtype=np.int64), np.zeros(count, dtype=np.int64)]
    probs = np.stack([1 - p, p], axis=1)
    issues, quality = cleanlab_issues(labels, np.vstack([probs, probs[:, ::-1]]))
    return quality[:count], issues[:count] | issues[count:]
