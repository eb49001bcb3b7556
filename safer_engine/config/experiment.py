"""The experiment grid: SAFER edits against random ones at several ratios, over seeds."""

from __future__ import annotations

import dataclasses

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Config):
    """Clean runs, SAFER poisoning and random flipping at each poison ratio, SAFER denoising
    and random removal at each denoise ratio, each over the seeds."""

    poison: tuple[float, ...] | None = None
    """Percentages of train pairs flipped (the paper: 0.5, 1, 2.5, 5). Unset: 1,2.5,5 with
    the fast recipe; 5,10 when the full recipe is among the recipes (each run trains the
    whole model)."""

    denoise: tuple[float, ...] | None = None
    """Percentages of train pairs removed (the paper: 2, 4, 6, 8, 10). Unset: 2,6,10 with
    the fast recipe; 10 when the full recipe is among the recipes."""

    seeds: int = 3
    """Seeds per setting: each trains its own model, and random baselines draw anew."""

    def __post_init__(self) -> None:
        for name in ("poison", "denoise"):  # JSON gives lists back
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(float(v) for v in value))
        super().__post_init__()

    def validate(self) -> None:
        for name, ratios in (("poison", self.poison or ()), ("denoise", self.denoise or ())):
            bad = [r for r in ratios if not 0 < r < 100]
            if bad:
                raise ConfigError(
                    f"--{name} ratios are percentages above 0 and below 100, not "
                    f"{', '.join(f'{r:g}' for r in bad)}."
                )
        if self.poison == () and self.denoise == ():
            raise ConfigError("Give at least one --poison or --denoise ratio.")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, not {self.seeds}.")

    def for_recipes(self, recipes: tuple[str, ...]) -> ExperimentConfig:
        """This grid with unset ratios filled in: the fast grid, or the smaller full one
        when the full recipe trains (so both recipes of one experiment share its cells)."""
        full = "full" in recipes
        poison = self.poison if self.poison is not None else FULL_POISON if full else FAST_POISON
        denoise = (
            self.denoise if self.denoise is not None else FULL_DENOISE if full else FAST_DENOISE
        )
        return dataclasses.replace(self, poison=poison, denoise=denoise)


FAST_POISON = (1.0, 2.5, 5.0)
FAST_DENOISE = (2.0, 6.0, 10.0)
FULL_POISON = (5.0, 10.0)
FULL_DENOISE = (10.0,)
