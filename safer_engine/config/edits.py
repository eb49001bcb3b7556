"""How training data is edited: poisoning, denoising, their random baselines, or by hand."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

EditMode = Literal["poison", "denoise", "random-flip", "random-remove", "manual"]
EDIT_MODES: tuple[str, ...] = ("poison", "denoise", "random-flip", "random-remove", "manual")
SCORED_MODES = frozenset({"poison", "denoise"})
"""Modes that rank pairs by their pair score (the others need no SAE)."""


@dataclasses.dataclass(frozen=True)
class EditConfig(Config):
    """An edit plan of the train split: which pairs to flip or remove, and why."""

    mode: EditMode = "poison"
    """poison flips chosen and rejected of the highest-scoring pairs; denoise removes the
    lowest-scoring; random-flip and random-remove do the same to pairs drawn at random (the
    baselines); manual edits the pairs listed in --pairs."""

    ratio: float = 5.0
    """Percent of the train pairs to edit (not for manual)."""

    seed: int = 0
    """Seed of the random baselines' draw."""

    pairs: str | None = None
    """manual only: a file of pair ids, one per line (or a CSV with a pair_id column)."""

    action: Literal["flip", "remove"] = "flip"
    """manual only: flip or remove the listed pairs."""

    def validate(self) -> None:
        if self.mode not in EDIT_MODES:
            raise ConfigError(f"--mode must be one of {', '.join(EDIT_MODES)}, not {self.mode!r}.")
        if self.action not in ("flip", "remove"):
            raise ConfigError(f"--action must be flip or remove, not {self.action!r}.")
        if self.mode == "manual":
            if not self.pairs:
                raise ConfigError(
                    "--mode manual needs --pairs FILE: the pair ids to edit, one per line."
                )
        elif not 0 < self.ratio < 100:
            raise ConfigError(
                f"--ratio is a percentage of the train pairs: above 0 and below 100, "
                f"not {self.ratio:g}."
            )

    @property
    def flips(self) -> bool:
        return self.mode in ("poison", "random-flip") or (
            self.mode == "manual" and self.action == "flip"
        )
