"""How a sparse autoencoder is trained on the store."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class SAEConfig(Config):
    """A TopK sparse autoencoder trained with sae-lens on the store's activations."""

    n_latents: int | None = None
    """SAE features; None takes 8 × the activation width (the paper: 16384 for 2048)."""

    k: int | None = None
    """Active features per token; None takes 64 for widths ≥ 1024, scaled down linearly
    for smaller models (24 for MiniLM's 384)."""

    rows: Literal["all", "selected"] = "all"
    """Train on every stored activation row, or only the selected (sentence-end) ones."""

    epochs: float = 1.5
    """Passes over the training rows (the demo: 1.5 reaches variance explained 0.84 with
    5.5% dead latents)."""

    batch_size: int = 1024
    """Activation rows per optimiser step."""

    learning_rate: float = 3e-3
    """Adam learning rate: constant, then falling to zero over the last `lr_decay` of the
    steps. Short runs want it high; much above 4e-3 latents start to die."""

    lr_decay: float = 0.3
    """Fraction of each training stage's steps, at its end, over which the learning rate falls
    linearly to zero (0 keeps it constant)."""

    decoder_init_norm: float = 0.5
    """Norm of each decoder row at initialisation; the encoder starts as the decoder's
    transpose. sae-lens's 0.1 starts from a near-zero reconstruction whose first steps
    silence many latents for good (an earlier demo store, other settings as here: 22% dead;
    0.5: 3%); 1.0 and above learn more slowly."""

    b_dec_init: Literal["zeros", "mean"] = "mean"
    """Start of the decoder bias, which is subtracted from the input before encoding: the
    training data's mean, so latents see centred activations from the first step (an
    earlier demo store: 3% dead), or zeros (12% dead)."""

    eval_rows: int = 20_000
    """Rows sampled after training to measure variance explained, L0 and dead features."""

    pretrain_text: str | None = None
    """A local text file for a first training stage on generic text, as the paper does
    before the preference data; None trains on the preference data only."""

    pretrain_epochs: float = 2.0
    """Passes over the generic-text activations in the first stage."""

    pretrain_tokens: int = 200_000
    """Most generic-text tokens used in the first stage."""

    seed: int = 0
    """Seed of initialisation and row order."""

    def validate(self) -> None:
        if self.n_latents is not None and self.n_latents < 2:
            raise ConfigError(f"--n-latents must be at least 2, not {self.n_latents}.")
        if self.k is not None and self.k < 1:
            raise ConfigError(f"--k must be at least 1, not {self.k}.")
        if self.n_latents is not None and self.k is not None and self.k > self.n_latents:
            raise ConfigError(
                f"k ({self.k}) cannot exceed n_latents ({self.n_latents}).",
                "Lower --k or raise --n-latents.",
            )
        if self.rows not in ("all", "selected"):
            raise ConfigError(f"--rows must be all or selected, not {self.rows!r}.")
        if self.pretrain_epochs <= 0 or self.pretrain_tokens < 1:
            raise ConfigError("--pretrain-epochs and --pretrain-tokens must be positive.")
        if self.epochs <= 0 or self.batch_size < 1 or self.eval_rows < 1:
            raise ConfigError("--epochs, --batch-size and eval_rows must be positive.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"--learning-rate must be in (0, 1), not {self.learning_rate}.")
        if not 0 <= self.lr_decay < 1:
            raise ConfigError(f"--lr-decay must be in [0, 1), not {self.lr_decay}.")
        if not 0 < self.decoder_init_norm <= 100:
            raise ConfigError(
                f"--decoder-init-norm must be in (0, 100], not {self.decoder_init_norm}."
            )
        if self.b_dec_init not in ("zeros", "mean"):
            raise ConfigError(f"--b-dec-init must be zeros or mean, not {self.b_dec_init!r}.")

    def resolved(self, d_in: int) -> tuple[int, int]:
        """(n_latents, k) for activations of width `d_in`."""
        n_latents = self.n_latents or 8 * d_in
        k = self.k or max(1, min(64, round(64 * d_in / 1024)))
        if k > n_latents:
            raise ConfigError(
                f"k ({k}) cannot exceed n_latents ({n_latents}).", "Lower --k or raise --n-latents."
            )
        return n_latents, k
