"""How the reward model is trained and how its activations are extracted."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config, flag
from safer_engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class RMConfig(Config):
    """Bradley–Terry reward-model training on the train split of a workspace's pairs."""

    model: str = "minilm"
    """Backbone: an embedded name (minilm, smollm2), a local folder or .gguf file, or a hub id."""

    max_length: int = 128
    """Tokens per (prompt, response) sequence; longer responses are cut at the end."""

    max_prompt_tokens: int = 48
    """Prompts longer than this keep only their last tokens, leaving room for the response."""

    epochs: float = 3.0
    """Passes over the training pairs (ignored when max_steps is set)."""

    max_steps: int = -1
    """Stop after this many optimiser steps; -1 trains for `epochs`."""

    batch_texts: int = 32
    """Distinct texts per optimiser step and device; a prompt's texts stay in one batch, so
    every pair among them counts (a prompt with more texts gets a batch of its own)."""

    learning_rate: float = 1e-4
    """Peak AdamW learning rate, reached after warm-up and decayed linearly."""

    warmup_ratio: float = 0.1
    """Share of steps spent warming the learning rate up."""

    weight_decay: float = 0.01
    """AdamW weight decay."""

    seed: int = 0
    """Seed of initialisation, data order and dropout."""

    save_steps: int = 50
    """Write a resumable checkpoint every this many steps."""

    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """bf16 mixed precision on a GPU that supports it (auto), or always fp32 / bf16."""

    gradient_checkpointing: Literal["auto", "on", "off"] = "auto"
    """Trade compute for memory; auto turns it on when training on a GPU."""

    def validate(self) -> None:
        positive = {
            "max_length": self.max_length,
            "max_prompt_tokens": self.max_prompt_tokens,
            "batch_texts": self.batch_texts,
            "save_steps": self.save_steps,
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
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"--learning-rate must be in (0, 1), not {self.learning_rate}.")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), not {self.warmup_ratio}.")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"--precision must be auto, fp32 or bf16, not {self.precision!r}.")
        if self.gradient_checkpointing not in ("auto", "on", "off"):
            raise ConfigError("gradient_checkpointing must be auto, on or off.")


@dataclasses.dataclass(frozen=True)
class ExtractConfig(Config):
    """Residual-stream extraction from the workspace's reward model into `store.h5`."""

    layer: int | None = None
    """Residual stream after this decoder block (1-based, hidden_states[layer]); None takes
    about three quarters of the depth, as the paper's 12 of 16."""

    policy: Literal["sentence_end", "all", "last"] = "sentence_end"
    """Tokens marked selected for salience and SAE training: the paper's sentence ends,
    every response token, or the last one."""

    keep: Literal["response", "selected"] = "response"
    """Activations stored: every response token (lets the explorer highlight whole
    responses) or only the selected ones (far smaller on large data sets)."""

    normalise: bool = True
    """Record that readers standardise each token vector over the hidden dim, as the paper
    does; the stored values stay raw."""

    batch_tokens: int = 8192
    """Padded tokens per forward batch; texts are batched by length."""

    shard_docs: int = 256
    """Texts per shard: the unit of crash-safe progress and resume."""

    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """bf16 on a GPU (auto), or always fp32 / bf16."""

    def validate(self) -> None:
        if self.layer is not None and self.layer < 1:
            raise ConfigError(f"--layer must be at least 1, not {self.layer}.")
        if self.policy not in ("sentence_end", "all", "last"):
            raise ConfigError(f"--policy must be sentence_end, all or last, not {self.policy!r}.")
        if self.keep not in ("response", "selected"):
            raise ConfigError(f"--keep must be response or selected, not {self.keep!r}.")
        if self.batch_tokens < 16 or self.shard_docs < 1:
            raise ConfigError("--batch-tokens must be at least 16 and --shard-docs at least 1.")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"--precision must be auto, fp32 or bf16, not {self.precision!r}.")
