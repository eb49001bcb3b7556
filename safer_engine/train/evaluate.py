"""Pairwise accuracy of a reward model: per slice with 95% intervals, reward margins, and
RewardBench section scores when the data carries RewardBench subsets."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.data.rewardbench import EXAMPLE_COUNTS as RB_EXAMPLE_COUNTS
from safer_engine.data.rewardbench import SECTIONS as RB_SECTIONS
from safer_engine.errors import TrainingError
from safer_engine.files import write_text_atomic
from safer_engine.models.batching import pad_batch
from safer_engine.models.reward_model import load_trained_rm
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.pairs import EncodedPairs, encode_pairs

Z95 = 1.959963984540054
RB_OVERALL = "overall"
"""The key of RewardBench's overall score (the mean of its four sections) in `rewardbench`."""


@dataclass(frozen=True)
class SliceAccuracy:
    """Pairwise accuracy of one group of pairs, with a Wilson 95% interval."""

    name: str
    pairs: int
    accuracy: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class MarginStats:
    """Distribution of r(chosen) − r(rejected)."""

    mean: float
    std: float
    p05: float
    median: float
    p95: float


@dataclass(frozen=True)
class EvalReport:
    split: str
    overall: SliceAccuracy
    slices: list[SliceAccuracy]
    margins: MarginStats
    rewardbench: dict[str, float] | None
    """RewardBench section scores and their mean (`overall`) on data with RewardBench subsets."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, path: Path) -> EvalReport:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            split=data["split"],
            overall=SliceAccuracy(**data["overall"]),
            slices=[SliceAccuracy(**s) for s in data["slices"]],
            margins=MarginStats(**data["margins"]),
            rewardbench=data["rewardbench"],
        )

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    if total == 0:
        return (math.nan, math.nan)
    p = correct / total
    denominator = 1 + Z95**2 / total
    centre = (p + Z95**2 / (2 * total)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy(name: str, correct: np.ndarray) -> SliceAccuracy:
    k, n = int(correct.sum()), int(correct.size)
    low, high = wilson_interval(k, n)
    return SliceAccuracy(name, n, k / n if n else math.nan, low, high)


def margin_stats(margins: np.ndarray) -> MarginStats:
    q05, q50, q95 = np.quantile(margins, [0.05, 0.5, 0.95])
    return MarginStats(
        float(margins.mean()), float(margins.std()), float(q05), float(q50), float(q95)
    )


def rewardbench_sections(subsets: list[str], correct: np.ndarray) -> dict[str, float]:
    """RewardBench's scores, computed as its package does (`calculate_scores_per_section`).

    Each subset's accuracy is over its rows present; each section is the mean of its
    subsets' accuracies weighted by the package's FIXED example counts (`EXAMPLE_COUNTS`:
    math-prm counts 984, as much as the six code subsets together), not by the rows present.
    `overall` is the mean of the four sections, the leaderboard's score; it is given only
    when every section has data. Sections without data and unknown subsets are left out.
    """
    wins: dict[str, int] = {}
    rows: dict[str, int] = {}
    for subset, won in zip(subsets, correct.tolist(), strict=True):
        wins[subset] = wins.get(subset, 0) + int(bool(won))
        rows[subset] = rows.get(subset, 0) + 1
    per_subset = {subset: wins[subset] / rows[subset] for subset in rows}
    scores: dict[str, float] = {}
    for section, members in RB_SECTIONS.items():
        # summed in the package's order, so the scores match it to the last bit
        weighted, examples = 0.0, 0
        for subset in members:
            if subset in per_subset:
                weighted += per_subset[subset] * RB_EXAMPLE_COUNTS[subset]
                examples += RB_EXAMPLE_COUNTS[subset]
        if examples:
            scores[section] = weighted / examples
    if len(scores) == len(RB_SECTIONS):
        scores[RB_OVERALL] = sum(scores[section] for section in RB_SECTIONS) / len(RB_SECTIONS)
    return scores


def report_from_margins(table: pl.DataFrame, margins: np.ndarray, split: str) -> EvalReport:
    correct = margins > 0
    slices = [
        accuracy(name, correct[(table["slice"] == name).to_numpy()])
        for name in sorted(table["slice"].unique().to_list())
    ]
    sections = None
    if "subset" in table.columns:
        sections = rewardbench_sections(table["subset"].cast(pl.Utf8).to_list(), correct)
    return EvalReport(split, accuracy("all", correct), slices, margin_stats(margins), sections)


def score_texts(
    model: Any,
    encoded: EncodedPairs,
    pad_id: int,
    batch_texts: int,
    progress: Progress,
    cancel: CancelToken,
) -> np.ndarray:
    """Reward of every distinct text, longest first so padding stays small."""
    import torch

    device = next(model.parameters()).device
    order = sorted(range(len(encoded.texts)), key=lambda i: -len(encoded.texts[i]))
    rewards = np.zeros(len(encoded.texts), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_texts):
            cancel.check("scoring")
            progress("scoring", start, len(order))
            rows = order[start : start + batch_texts]
            inputs = pad_batch([encoded.texts[i] for i in rows], pad_id)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                out = model(**inputs).logits.squeeze(-1).float()
            rewards[rows] = out.cpu().numpy()
    progress("scoring", len(order), len(order))
    return rewards


def evaluate_reward_model(
    model_dir: Path,
    table: pl.DataFrame,
    split: str = "test",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    batch_texts: int = 64,
) -> EvalReport:
    part = table if split == "all" else table.filter(pl.col("split") == split)
    if part.height == 0:
        raise TrainingError(
            f"The data has no pairs in split {split!r} to evaluate.",
            "Choose another --split (train, test or all).",
        )
    margins = pair_margins(model_dir, part, progress, cancel, batch_texts)
    return report_from_margins(part, margins, split)


def pair_margins(
    model_dir: Path,
    table: pl.DataFrame,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    batch_texts: int = 64,
) -> np.ndarray:
    """r(chosen) − r(rejected) of every row of `table` under a trained reward model, each
    distinct text run once."""
    cancel = cancel or CancelToken()
    model, tokenizer, fmt, _ = load_trained_rm(model_dir)
    encoded = encode_pairs(table, tokenizer, fmt, progress, cancel)
    rewards = score_texts(model, encoded, tokenizer.pad_token_id, batch_texts, progress, cancel)
    return rewards[encoded.pairs[:, 0]] - rewards[encoded.pairs[:, 1]]
