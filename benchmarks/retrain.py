"""The fast retraining recipe on a workspace's data: cache build time, time per retrain, and
held-out accuracy clean and with 5% / 10% of the train safety pairs flipped, at random and
(a crude stand-in for targeted poisoning) those the clean run ranks most surely.

    .venv/bin/python benchmarks/retrain.py --workspace DIR [--seeds 2] [--cache-dir DIR]
        [--set hidden=512 --set pooling=all ...]

The recipe trains from the pretrained backbone (never the workspace's fine-tuned RM); the
cache goes to a fresh temporary folder unless --cache-dir names one. Nothing is written into
the workspace. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from safer_engine.progress import CancelToken, no_progress
from safer_engine.train.evaluate import SliceAccuracy
from safer_engine.train.fast_recipe import RecipeConfig, evaluate_fast, score, train_fast
from safer_engine.train.frozen_cache import build_cache
from safer_engine.workspace import Workspace

RUNS = ((0.0, ""), (0.05, "random"), (0.10, "random"), (0.05, "top-margin"), (0.10, "top-margin"))


def recipe_from(settings: list[str]) -> RecipeConfig:
    values: dict[str, Any] = {}
    for item in settings:
        name, _, raw = item.partition("=")
        try:
            values[name] = json.loads(raw)
        except json.JSONDecodeError:
            values[name] = raw  # a bare word such as pooling=all
    return RecipeConfig.from_dict(values)


def flip_safety(
    pairs: np.ndarray, slices: np.ndarray, fraction: float, seed: int, margins: np.ndarray | None
) -> np.ndarray:
    """A copy of `pairs` with round(fraction × safety pairs) of its safety rows swapped: at
    random, or (given the clean model's margins) those it ranks most surely, a crude stand-in
    for the salience-targeted poisoning the experiments will do."""
    rows = np.flatnonzero(slices == "safety")
    count = round(fraction * len(rows))
    if margins is None:
        rng = np.random.default_rng([seed, round(fraction * 1000)])
        chosen = rng.choice(rows, count, replace=False)
    else:
        chosen = rows[np.argsort(-margins[rows], kind="stable")[:count]]
    out = pairs.copy()
    out[chosen] = out[chosen, ::-1]
    return out


def cell(s: SliceAccuracy) -> str:
    return f"{s.accuracy:.3f} ({s.ci_low:.3f}–{s.ci_high:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()

    recipe = recipe_from(args.set)
    table, _ = Workspace.open(args.workspace).pairs()
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="safer-retrain-")) / "frozen"
    print(
        f"machine: {platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads for the cache, {recipe.threads or 'all'} for training"
    )
    print(f"recipe: {json.dumps(recipe.to_dict(), sort_keys=True)}")

    started = time.perf_counter()
    cache = build_cache(args.backbone, table, recipe, cache_dir, no_progress, CancelToken())
    built = time.perf_counter() - started
    started = time.perf_counter()
    build_cache(args.backbone, table, recipe, cache_dir, no_progress, CancelToken())
    print(
        f"cache: {built:.1f} s to build or load ({len(cache.texts)} texts × "
        f"{cache.features.shape[1]} features, in {cache_dir}); "
        f"{time.perf_counter() - started:.2f} s to reuse"
    )

    train = table.filter(pl.col("split") == "train")
    pairs, slices = cache.pairs_of(train), train["slice"].to_numpy()
    n_safety = int((slices == "safety").sum())
    print(
        f"train pairs: {len(pairs)} ({n_safety} safety); test pairs: "
        f"{table.filter(pl.col('split') == 'test').height}\n"
    )
    print(
        f"{'seed':>4} {'flipped':>15} {'train s':>8}  {'safety (95% CI)':<22} "
        f"{'Δ safety':>8}  general (95% CI)"
    )
    results: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(args.seeds):
        clean: float | None = None
        margins: np.ndarray | None = None
        for fraction, how in RUNS:
            targeted = margins if how == "top-margin" else None
            edited = flip_safety(pairs, slices, fraction, seed, targeted)
            started = time.perf_counter()
            model = train_fast(cache, edited, recipe, seed)
            seconds = time.perf_counter() - started
            report = {s.name: s for s in evaluate_fast(model, cache, table, "test").slices}
            safety = report["safety"]
            if clean is None:
                clean = safety.accuracy
                rewards = score(model, cache)
                margins = rewards[pairs[:, 0]] - rewards[pairs[:, 1]]
            flipped = f"{fraction:.0%} {how}" if fraction else "none"
            general = cell(report["general"]) if "general" in report else "–"
            results.setdefault(flipped, []).append(
                (seconds, safety.accuracy, safety.accuracy - clean)
            )
            print(
                f"{seed:>4} {flipped:>15} {seconds:>8.2f}  {cell(safety):<22} "
                f"{safety.accuracy - clean:>+8.3f}  {general}"
            )

    print(f"\nmean over {args.seeds} seed(s): flips, train s, safety, Δ safety")
    for flipped, rows in results.items():
        seconds, accuracy, delta = np.mean(rows, axis=0)
        print(f"{flipped:>15} {seconds:>8.2f}  {accuracy:.3f}  {delta:+.3f}")


if __name__ == "__main__":
    main()
