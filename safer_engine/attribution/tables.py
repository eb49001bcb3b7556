"""The texts' attributions turned into what people read: each pair's attribution to its
margin (chosen's minus rejected's), each feature's mean over sets of pairs, and how much of
the margins the features and the error explain."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from safer_engine import artifacts as names
from safer_engine.attribution.texts import Attributed
from safer_engine.config import Config
from safer_engine.files import atomic_dir
from safer_engine.store.reader import StoreReader

SETS = ("train", "test", "wrong")
"""The pairs each feature's effect is averaged over: train pairs, test pairs, and the test
pairs the reward model orders wrong (margin ≤ 0)."""


@dataclass(frozen=True)
class Faithfulness:
    """How closely the first-order terms account for the pairs' margins."""

    pairs: int
    explained: float
    """1 − Σ|margin − (features + error)| / Σ|margin|: the share of the margins the features
    and the error explain (1: exactly; 0 or below: no better than nothing)."""
    correlation: float
    """Pearson correlation of features + error with the margin, over pairs."""
    explained_with_rest: float
    """The same share with the rest added (the activations' means and the decoder bias)."""
    error_share: float
    """Median over pairs of |error| / (Σ_j |feature j| + |error|)."""

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class AttributionTables:
    pairs: pl.DataFrame
    features: pl.DataFrame
    texts: pl.DataFrame
    faithfulness: Faithfulness


def save_tables(
    folder: Path, tables: AttributionTables, summary: dict[str, Any], config: Config
) -> None:
    """The attribution folder written at once: readers see the old tables or the new."""
    with atomic_dir(folder) as partial:
        tables.pairs.write_parquet(partial / names.ATTRIBUTION_PAIRS)
        tables.features.write_parquet(partial / names.ATTRIBUTION_FEATURES)
        tables.texts.write_parquet(partial / names.ATTRIBUTION_TEXTS)
        summary_text = json.dumps(summary, indent=2) + "\n"
        (partial / names.ATTRIBUTION_SUMMARY).write_text(summary_text, encoding="utf-8")
        config.save(partial / names.ATTRIBUTION_CONFIG)


def text_matrix(attributed: Attributed, width: int) -> sparse.csr_matrix:
    t = attributed.texts
    return sparse.csr_matrix(
        (t.value.astype(np.float64), t.feature, t.offsets), shape=(len(attributed.reward), width)
    )


def build_tables(
    attributed: Attributed, reader: StoreReader, width: int, pair_top: int
) -> AttributionTables:
    texts = attributed.texts
    matrix = text_matrix(attributed, width)
    chosen, rejected = reader.chosen_doc, reader.rejected_doc
    margin = attributed.reward[chosen] - attributed.reward[rejected]
    feature_total = np.asarray(matrix.sum(axis=1)).ravel()
    features = feature_total[chosen] - feature_total[rejected]
    error = texts.error[chosen] - texts.error[rejected]
    rest = texts.rest[chosen] - texts.rest[rejected]
    diff = (matrix[chosen] - matrix[rejected]).tocsr()
    top_feature, top_value, absolute = _top(diff, pair_top)
    split_codes, split_names = reader.codes("split")
    slice_codes, slice_names = reader.codes("slice")
    split = np.array(split_names, dtype=object)[split_codes]
    pairs = pl.DataFrame(
        {
            "pair_id": reader.pair_ids(),
            "split": split.tolist(),
            "slice": np.array(slice_names, dtype=object)[slice_codes].tolist(),
            "margin": margin,
            "features": features,
            "error": error,
            "rest": rest,
            "error_share": np.abs(error) / np.maximum(absolute + np.abs(error), 1e-12),
            "top_feature": top_feature,
            "top_attribution": top_value,
        },
        schema_overrides={
            "top_feature": pl.List(pl.Int32),
            "top_attribution": pl.List(pl.Float32),
        },
    )
    masks = {"train": split == "train", "test": split == "test"}
    masks["wrong"] = masks["test"] & (margin <= 0)
    return AttributionTables(
        pairs=pairs,
        features=_feature_effects(diff, masks, width).with_columns(
            direction=_directions(matrix, chosen[masks["train"]], rejected[masks["train"]])
        ),
        texts=_texts_table(texts.offsets, texts.feature, texts.value),
        faithfulness=_faithfulness(margin, features, error, rest, pairs["error_share"].to_numpy()),
    )


def _top(diff: sparse.csr_matrix, k: int) -> tuple[list[list[int]], list[list[float]], np.ndarray]:
    """Each row's k largest entries by magnitude (signed, largest first), and Σ|entries|."""
    features, values = [], []
    absolute = np.zeros(diff.shape[0])
    for row in range(diff.shape[0]):
        lo, hi = diff.indptr[row], diff.indptr[row + 1]
        data, columns = diff.data[lo:hi], diff.indices[lo:hi]
        order = np.lexsort((columns, -np.abs(data)))[:k]
        features.append(columns[order].tolist())
        values.append(data[order].tolist())
        absolute[row] = np.abs(data).sum()
    return features, values, absolute


def _feature_effects(
    diff: sparse.csr_matrix, masks: dict[str, np.ndarray], width: int
) -> pl.DataFrame:
    """Each feature's mean attribution to the margin over each set of pairs (0 for a set
    without pairs)."""
    columns: dict[str, np.ndarray] = {"feature": np.arange(width, dtype=np.int32)}
    for name in SETS:
        mask = masks[name]
        total = np.asarray(diff[mask].sum(axis=0)).ravel() if mask.any() else np.zeros(width)
        columns[f"effect_{name}"] = total / max(int(mask.sum()), 1)
    return pl.DataFrame(columns)


def _directions(matrix: sparse.csr_matrix, chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Each feature's mean attribution to the reward of the train texts it fires on: > 0 when
    the reward model rewards it, < 0 when it penalises it (0 where it never fires)."""
    texts = matrix[np.unique(np.concatenate([chosen, rejected]))]
    fired = np.bincount(texts.indices, minlength=matrix.shape[1])
    total = np.asarray(texts.sum(axis=0)).ravel()
    return total / np.maximum(fired, 1)


def _texts_table(offsets: np.ndarray, feature: np.ndarray, value: np.ndarray) -> pl.DataFrame:
    """Every (text, feature) attribution, sorted by feature so one feature's rows are read
    together."""
    doc = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    table = pl.DataFrame({"doc": doc, "feature": feature, "attribution": value})
    return table.sort("feature", "doc")


def _faithfulness(
    margin: np.ndarray,
    features: np.ndarray,
    error: np.ndarray,
    rest: np.ndarray,
    error_share: np.ndarray,
) -> Faithfulness:
    scale = max(float(np.abs(margin).sum()), 1e-12)
    first_order = features + error
    both = first_order.std() > 0 and margin.std() > 0
    return Faithfulness(
        pairs=len(margin),
        explained=1.0 - float(np.abs(margin - first_order).sum()) / scale,
        correlation=float(np.corrcoef(first_order, margin)[0, 1]) if both else 0.0,
        explained_with_rest=1.0 - float(np.abs(margin - first_order - rest).sum()) / scale,
        error_share=float(np.median(error_share)) if len(error_share) else 0.0,
    )
