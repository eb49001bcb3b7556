"""The fast retraining recipe: a frozen backbone's cached features and a small trained head,
trained on the analysed reward model's own schedule unless told otherwise."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

from safer_engine.config.base import Config, flag
from safer_engine.errors import ConfigError

Pooling = Literal["response", "all"]
Batching = Literal["prompts", "pairs"]


@dataclasses.dataclass(frozen=True)
class RecipeConfig(Config):
    """Frozen-backbone features plus a trained MLP head: the fast retraining recipe."""

    max_length: int = 128
    """Tokens per (prompt, response) sequence, as `RMConfig.max_length`."""

    max_prompt_tokens: int = 48
    """Prompts keep only their last this many tokens, as `RMConfig.max_prompt_tokens`."""

    pooling: Pooling = "response"
    """Average each block's output over the response's tokens, or over every real token."""

    layers: tuple[int, ...] | None = None
    """Blocks (1-based) whose pooled outputs are concatenated into a text's features; None
    takes every block (6 × 384 = 2,304 features for MiniLM)."""

    batch_tokens: int = 8192
    """Padded tokens per forward batch while building the cache (speed only)."""

    hidden: int = 256
    """Width of the head's hidden layer; 0 makes the head linear."""

    dropout: float = 0.2
    """Dropout on the head's input and hidden layer."""

    epochs: float = 3.0
    """Passes over the training pairs (ignored when max_steps is set); as `RMConfig.epochs`."""

    max_steps: int = -1
    """Stop after this many optimiser steps; -1 trains for `epochs`."""

    batching: Batching = "prompts"
    """prompts: whole prompt groups packed into steps of at most `batch_texts` distinct texts,
    the loss averaged over every pair among them, as the full recipe trains; pairs: random
    steps of `batch_pairs` pairs."""

    batch_texts: int = 32
    """Distinct texts per step with prompts batching, as `RMConfig.batch_texts`."""

    batch_pairs: int = 64
    """Pairs per step with pairs batching."""

    learning_rate: float = 1e-4
    """Peak AdamW learning rate, reached after warm-up and decayed linearly to zero."""

    warmup_ratio: float = 0.1
    """Share of steps spent warming the learning rate up."""

    weight_decay: float = 0.01
    """AdamW weight decay."""

    threads: int = 1
    """CPU threads while training the head (0 keeps torch's setting; the setting is process-wide
    until training ends): its matrices are small, so one thread wastes no time waking others
    and copes best with a busy machine."""

    CACHE_FIELDS: ClassVar[tuple[str, ...]] = (
        "max_length",
        "max_prompt_tokens",
        "pooling",
        "layers",
    )

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):  # JSON gives a list back
            object.__setattr__(self, "layers", tuple(self.layers))
        super().__post_init__()

    def validate(self) -> None:
        positive = {
            "max_length": self.max_length,
            "max_prompt_tokens": self.max_prompt_tokens,
            "batch_tokens": self.batch_tokens,
            "batch_texts": self.batch_texts,
            "batch_pairs": self.batch_pairs,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{flag(name)} must be at least 1, not {value}.")
        if self.max_prompt_tokens >= self.max_length:
            raise ConfigError(
                f"--max-prompt-tokens ({self.max_prompt_tokens}) must be below --max-length "
                f"({self.max_length}) so the response keeps some room."
            )
        if self.max_steps == 0 or self.max_steps < -1:
            raise ConfigError(
                f"--max-steps must be -1 (use --epochs) or at least 1, not {self.max_steps}."
            )
        if self.epochs <= 0 and self.max_steps < 1:
            raise ConfigError("Set --epochs above 0 or --max-steps to at least 1.")
        if self.batching not in ("prompts", "pairs"):
            raise ConfigError(f"--batching must be prompts or pairs, not {self.batching!r}.")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"--warmup-ratio must be in [0, 1), not {self.warmup_ratio}.")
        if self.pooling not in ("response", "all"):
            raise ConfigError(f"--pooling must be response or all, not {self.pooling!r}.")
        if self.layers is not None and (
            not self.layers or min(self.layers) < 1 or len(set(self.layers)) != len(self.layers)
        ):
            raise ConfigError(
                f"--layers must be distinct block numbers from 1, not {self.layers}.",
                "Leave it unset to use every block.",
            )
        if self.hidden < 0 or self.threads < 0:
            raise ConfigError("--hidden and --threads cannot be negative.")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout must be in [0, 1), not {self.dropout}.")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"--learning-rate must be in (0, 1), not {self.learning_rate}.")
        if self.weight_decay < 0:
            raise ConfigError(f"--weight-decay cannot be negative, not {self.weight_decay}.")

    def cache_settings(self) -> dict[str, Any]:
        """The settings the frozen cache depends on; the rest only shape training."""
        settings = {name: getattr(self, name) for name in self.CACHE_FIELDS}
        settings["layers"] = list(self.layers) if self.layers is not None else None
        return settings

    def resolved_layers(self, depth: int) -> tuple[int, ...]:
        layers = self.layers or tuple(range(1, depth + 1))
        if max(layers) > depth:
            raise ConfigError(
                f"--layers {max(layers)} is out of range: the backbone has {depth} blocks.",
                f"Choose blocks between 1 and {depth}.",
            )
        return layers
