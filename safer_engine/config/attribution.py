"""How `safer attribute` attributes each text's reward to SAE features, and how it checks
the attributions by ablation."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class AttributionConfig(Config):
    """Attribution patching through the SAE: activation × gradient of the reward at the
    store's layer, one forward and one backward per distinct text."""

    batch_tokens: int = 4096
    """Tokens (padding included) per forward and backward batch; texts of similar length are
    batched together."""

    shard_docs: int = 128
    """Texts per resumable shard: at most this much work is redone after a kill."""

    pair_top: int = 16
    """Features kept per pair, the largest by |attribution to the margin|."""

    precision: Literal["auto", "fp32", "bf16"] = "fp32"
    """Model precision for the forward and backward: fp32 (exact enough to check against
    ablations), bf16, or auto (bf16 on a GPU that has it)."""

    def validate(self) -> None:
        for name in ("batch_tokens", "shard_docs", "pair_top"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}."
                )
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"--precision must be auto, fp32 or bf16, not {self.precision!r}.")


@dataclasses.dataclass(frozen=True)
class AblationCheckConfig(Config):
    """`safer attribute --check N`: attributions compared with real ablations."""

    pairs: int = 200
    """Pairs sampled (all splits) whose top features are ablated one at a time."""

    features: int = 5
    """Top features per pair (by |attribution to the margin|) to ablate."""

    seed: int = 0
    """Seed of the pair sample."""

    def validate(self) -> None:
        if self.pairs < 1:
            raise ConfigError(f"--check must be at least 1 pair, not {self.pairs}.")
        if self.features < 2:
            raise ConfigError(
                f"--check-features must be at least 2 (a rank needs two), not {self.features}."
            )
