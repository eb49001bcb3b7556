"""How a run trains a reward model: one interface, two recipes.

`full` is the analysed model's own recipe (`safer train-rm`: the backbone fine-tuned with the
Bradley–Terry loss by transformers' `Trainer`, resumable, several processes under
`accelerate launch`); `fast` fits a small head on a frozen backbone's cached features, in
seconds, as a proxy. `retrain/run.py`, the experiment, the noise benchmark and the explorer
hold a `Recipe` and never ask which one it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from safer_engine.config import RecipeConfig, RMConfig
from safer_engine.config.base import flag
from safer_engine.errors import ConfigError
from safer_engine.progress import CancelToken, Progress
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import RM

RECIPES = ("fast", "full")
DEFAULT_BACKBONE = "minilm"


@dataclass(frozen=True)
class Trained:
    """What one training did; `is_main` is False on the other processes of a launch, which
    neither evaluate nor record."""

    info: dict[str, Any] = field(default_factory=dict)
    is_main: bool = True


class Recipe(Protocol):
    """One way of training a run's reward model and scoring the clean test pairs with it."""

    name: str
    """`fast` or `full`: the word shown beside every run and table row."""

    every_process: bool
    """Whether every process of a launch takes part in training (else the main one alone)."""

    @property
    def description(self) -> str:
        """One sentence on what a run of this recipe trains, for reports."""
        ...

    def settings(self) -> dict[str, Any]:
        """Everything that shapes the model except the seed (saved in the run's record)."""
        ...

    def prepare(
        self, workspace: Workspace, progress: Progress, cancel: CancelToken
    ) -> dict[str, str]:
        """Build what every run of this recipe shares; return its fingerprints (run inputs)."""
        ...

    def analysed(self, workspace: Workspace, seed: int) -> bool:
        """Whether the clean run of `seed` would be the analysed reward model itself."""
        ...

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
        """Train on `table`'s train split into `folder/model`; `data_key` names that data
        (for resuming a checkpoint only on the same data)."""
        ...

    def margins(
        self,
        workspace: Workspace,
        folder: Path,
        table: pl.DataFrame,
        progress: Progress,
        cancel: CancelToken,
    ) -> np.ndarray:
        """r(chosen) − r(rejected) of every row of `table` under the model in `folder`."""
        ...


def recipe_key(recipe: Recipe) -> str:
    text = json.dumps(recipe.settings(), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]


def make_recipe(workspace: Workspace, name: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """The recipe `name` as the analysed reward model was trained (`full`: its `RMConfig`;
    `fast`: reading texts as it did), with `overrides` of its settings."""
    from safer_engine.retrain.fast import FastRecipe
    from safer_engine.retrain.full import FullRecipe

    overrides = overrides or {}
    if name not in RECIPES:
        raise ConfigError(f"--recipe must be fast or full, not {name!r}.")
    base = analysed_config(workspace)
    if name == "full":
        _check_overrides(RMConfig, overrides, name)
        return FullRecipe(dataclasses.replace(base, **overrides))
    _check_overrides(RecipeConfig, overrides, name)
    # read texts as the analysed model did, and train on its schedule
    shared = {f.name for f in dataclasses.fields(RecipeConfig)} & set(base.to_dict()) - {"seed"}
    own = {key: getattr(base, key) for key in shared}
    return FastRecipe(RecipeConfig(**{**own, **overrides}), base.model)


def make_recipes(
    workspace: Workspace, names: tuple[str, ...], overrides: dict[str, Any] | None = None
) -> list[Recipe]:
    """Each named recipe, taking the overrides that are its settings; an override that is a
    setting of none of them is refused."""
    overrides = overrides or {}
    known = set().union(*(_fields(_config_class(name)) for name in names))
    stray = sorted(set(overrides) - known)
    if stray:
        raise ConfigError(
            f"{flag(stray[0])} is not a setting of the {' or '.join(names)} recipe.",
            "See `safer retrain --help` for which settings each recipe takes.",
        )
    return [
        make_recipe(
            workspace,
            name,
            {k: v for k, v in overrides.items() if k in _fields(_config_class(name))},
        )
        for name in names
    ]


def analysed_config(workspace: Workspace) -> RMConfig:
    """The analysed reward model's training config (the defaults before it is trained)."""
    rm = workspace.stage(RM)
    if rm is None:
        return RMConfig()
    return RMConfig.from_dict(dict(rm.config))


def _config_class(name: str) -> type[RMConfig] | type[RecipeConfig]:
    return RMConfig if name == "full" else RecipeConfig


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"seed"}


def _check_overrides(cls: type, overrides: dict[str, Any], name: str) -> None:
    stray = sorted(set(overrides) - _fields(cls))
    if stray:
        other = "fast" if name == "full" else "full"
        raise ConfigError(
            f"{flag(stray[0])} is a setting of the {other} recipe, not of {name}.",
            f"Drop it, or pass --recipe {other}.",
        )
