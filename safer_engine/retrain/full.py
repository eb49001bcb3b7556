"""The full recipe: the analysed reward model's own training (`safer train-rm`'s code) on the
edited data, evaluated with `safer eval`'s code. Checkpoints go to the run's folder, so a run
stopped by Ctrl+C or kill -9 resumes from its last one; under `accelerate launch` every
process trains and the main one evaluates and records."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.config import RMConfig
from safer_engine.progress import CancelToken, Progress
from safer_engine.retrain.recipes import Trained
from safer_engine.train.evaluate import pair_margins
from safer_engine.train.reward import train_reward_model
from safer_engine.train.stage import rm_stage
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import RM


class FullRecipe:
    name = "full"
    every_process = True

    def __init__(self, config: RMConfig) -> None:
        self.config = config

    @property
    def description(self) -> str:
        c = self.config
        return (
            f"the analysed reward model's own training (`safer train-rm`): {c.model} from its "
            f"pretrained weights, every weight trained, {c.epochs:g} epochs at learning rate "
            f"{c.learning_rate:g}, {c.batch_texts} texts per step."
        )

    def settings(self) -> dict[str, Any]:
        settings = self.config.to_dict()
        settings.pop("seed")
        return settings

    def prepare(
        self, workspace: Workspace, progress: Progress, cancel: CancelToken
    ) -> dict[str, str]:
        return {}

    def analysed(self, workspace: Workspace, seed: int) -> bool:
        """The analysed model was trained by this recipe from this seed on the current data."""
        return workspace.stage(RM) is not None and workspace.is_current(
            rm_stage(workspace, self._seeded(seed))
        )

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
        result = train_reward_model(table, data_key, self._seeded(seed), folder, progress, cancel)
        info = {
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            "resumed_from": result.resumed_from,
        }
        return Trained(info, result.is_main)

    def margins(
        self,
        workspace: Workspace,
        folder: Path,
        table: pl.DataFrame,
        progress: Progress,
        cancel: CancelToken,
    ) -> np.ndarray:
        return pair_margins(folder / names.MODEL_DIR, table, progress, cancel)

    def _seeded(self, seed: int) -> RMConfig:
        return dataclasses.replace(self.config, seed=seed)
