"""The experiment grid: SAFER edits against random ones at several ratios, over seeds."""

from __future__ import annotations

import dataclasses

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Config):
    """Clean runs, SAFER poisoning and random flipping at each poison ratio, SAFER denoising
    and random removal at each denoise ratio, each over the seeds."""

    poison: tuple[float, ...] = (1.0, 2.5, 5.0)
    """Percentages of train pairs flipped (the paper: 0.5, 1, 2.5, 5)."""

    denoise: tuple[float, ...] = (2.0, 6.0, 10.0)
    """Percentages of train pairs removed (the paper: 2, 4, 6, 8, 10)."""

    seeds: int = 3
    """Seeds per setting: each trains its own head, and random baselines draw anew."""

    def __post_init__(self) -> None:
        for name in ("poison", "denoise"):  # JSON gives lists back
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(float(v) for v in value))
        super().__post_init__()

    def validate(self) -> None:
        for name, ratios in (("poison", self.poison), ("denoise", self.denoise)):
            bad = [r for r in ratios if not 0 < r < 100]
            if bad:
                raise ConfigError(
                    f"--{name} ratios are percentages above 0 and below 100, not "
                    f"{', '.join(f'{r:g}' for r in bad)}."
                )
        if not self.poison and not self.denoise:
            raise ConfigError("Give at least one --poison or --denoise ratio.")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, not {self.seeds}.")
