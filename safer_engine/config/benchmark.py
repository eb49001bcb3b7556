"""The noise benchmark: flip a known share of the safety train pairs, run the loop on the noisy
data, and measure how well each method finds the flipped pairs."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

NOISE_METHODS: tuple[str, ...] = ("safer", "margin", "cleanlab", "random")
"""Ways of ranking the noisy train pairs as suspect: SAFER's pair score, the noisy reward
model's own margin, cleanlab on out-of-fold probabilities, and chance."""
MAX_NOISE = 50.0


@dataclasses.dataclass(frozen=True)
class NoiseBenchmarkConfig(Config):
    """For each noise level and seed: flip that share of the safety train pairs, run the loop
    on the noisy data in a workspace of its own, rank the pairs by each method and retrain
    without each method's most suspect pairs."""

    noise: tuple[float, ...] = (5.0, 10.0, 20.0)
    """Percentages of the safety train pairs flipped, each above 0 and at most 50."""

    seeds: int = 2
    """Seeds per noise level: each flips other pairs and trains its own models."""

    methods: tuple[str, ...] = NOISE_METHODS
    """Methods that rank pairs as suspect: safer, margin, cleanlab, random (comma-separated).
    SAFER is also measured with the judge's features when the noisy workspace has
    judgements (see --judge)."""

    folds: int = 3
    """Folds of the fast recipe's out-of-fold probabilities that cleanlab reads."""

    rm_epochs: float | None = 2.0
    """Epochs of each noisy reward model (the full `train-rm` recipe, otherwise as the
    workspace's own reward model was trained); None: as many as that one. Two keep the
    demo's benchmark within 45 minutes on 2 CPU cores."""

    sae_epochs: float | None = 2.0
    """Epochs of each noisy workspace's SAE (otherwise trained as the workspace's own SAE);
    None: as many as that one."""

    select: Literal["salience", "effect"] = "salience"
    """How SAFER's safety features are ranked in each noisy workspace: by |salience| (the
    paper), or by |effect| (mean attribution to the margin; runs `safer attribute` there)."""

    judge: bool = False
    """Ask the LLM judge (openai backend: OPENAI_BASE_URL, SAFER_JUDGE_MODEL) about each noisy
    SAE's most salient features, and measure SAFER with the judge's features too."""

    def __post_init__(self) -> None:
        for name, kind in (("noise", float), ("methods", str)):  # JSON gives lists back
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(kind(v) for v in value))
        super().__post_init__()

    def validate(self) -> None:
        bad = [n for n in self.noise if not 0 < n <= MAX_NOISE]
        if bad or not self.noise:
            shown = ", ".join(f"{n:g}" for n in bad) or "none"
            raise ConfigError(
                f"--noise levels are percentages above 0 and at most {MAX_NOISE:g}, not {shown}.",
                "Flipping more than half of the pairs would make the flipped labels the "
                "majority: use e.g. --noise 5,10,20.",
            )
        if len(set(self.noise)) != len(self.noise):
            raise ConfigError("--noise lists a level twice.", "List each level once.")
        unknown = [m for m in self.methods if m not in NOISE_METHODS]
        if unknown or not self.methods:
            raise ConfigError(
                f"--methods must name some of {', '.join(NOISE_METHODS)}, not "
                f"{', '.join(unknown) or 'nothing'}.",
                "Example: --methods safer,margin,cleanlab,random",
            )
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, not {self.seeds}.")
        if self.select not in ("salience", "effect"):
            raise ConfigError(f"--select must be salience or effect, not {self.select!r}.")
        if self.folds < 2:
            raise ConfigError(f"--folds must be at least 2, not {self.folds}.")
        for name in ("rm_epochs", "sae_epochs"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be above 0, not {value:g}.")
