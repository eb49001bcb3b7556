"""The fast recipe: a frozen pretrained backbone run once over every text (`cache/frozen/`)
and a small head fitted per run in seconds. A proxy for the full recipe, measured against it
in the documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.config import RecipeConfig
from safer_engine.progress import CancelToken, Progress
from safer_engine.retrain.recipes import Trained
from safer_engine.train.fast_recipe import load_fast_rm, score, train_fast
from safer_engine.train.frozen_cache import FrozenCache, build_cache
from safer_engine.workspace import Workspace


class FastRecipe:
    name = "fast"
    every_process = False

    def __init__(self, config: RecipeConfig, backbone: str) -> None:
        self.config = config
        self.backbone = backbone
        self._caches: dict[Path, FrozenCache] = {}
        """Per workspace (the noise benchmark trains in several)."""

    @property
    def description(self) -> str:
        c = self.config
        head = f"an MLP head ({c.hidden} hidden units)" if c.hidden else "a linear head"
        length = f"{c.max_steps} steps" if c.max_steps > 0 else f"{c.epochs:g} epochs"
        steps = (
            f"steps of whole prompt groups (up to {c.batch_texts} texts)"
            if c.batching == "prompts"
            else f"random steps of {c.batch_pairs} pairs"
        )
        return (
            f"{head} on the frozen pretrained {self.backbone}'s cached features, trained for "
            f"{length} at learning rate {c.learning_rate:g} on {steps}; a proxy of the full "
            "recipe, seconds per run."
        )

    def settings(self) -> dict[str, Any]:
        return {**self.config.to_dict(), "backbone": self.backbone}

    def prepare(
        self, workspace: Workspace, progress: Progress, cancel: CancelToken
    ) -> dict[str, str]:
        if workspace.root not in self._caches:
            pairs, _ = workspace.pairs()
            folder = workspace.root / names.FROZEN_CACHE_DIR
            cache = build_cache(self.backbone, pairs, self.config, folder, progress, cancel)
            self._caches[workspace.root] = cache
        return {"cache": self._caches[workspace.root].key}

    def analysed(self, workspace: Workspace, seed: int) -> bool:
        return False

    def train(
        self,
        workspace: Workspace,
        table: pl.DataFrame,
        data_key: str,
        seed: int,
        folder: Path,
        progress: Progress,
        cancel: CancelToken,
    ) -> Trained:
        cache = self._prepared(workspace)
        train_pairs = cache.pairs_of(table.filter(pl.col("split") == "train"))
        model = train_fast(cache, train_pairs, self.config, seed, progress, cancel)
        model.save(folder / names.MODEL_DIR)
        return Trained(model.info)

    def margins(
        self,
        workspace: Workspace,
        folder: Path,
        table: pl.DataFrame,
        progress: Progress,
        cancel: CancelToken,
    ) -> np.ndarray:
        cache = self._prepared(workspace)
        rewards = score(load_fast_rm(folder / names.MODEL_DIR), cache)
        index = cache.pairs_of(table)
        return rewards[index[:, 0]] - rewards[index[:, 1]]

    def _prepared(self, workspace: Workspace) -> FrozenCache:
        if workspace.root not in self._caches:
            raise RuntimeError("FastRecipe.prepare must run before training or scoring")
        return self._caches[workspace.root]
