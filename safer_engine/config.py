"""Configuration dataclasses: one per stage, validated on construction, saved as JSON.

Each stage's config is written next to the artifact it produced, so any artifact can be
traced back to exactly how it was made.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal, TypeVar

from safer_engine.errors import ConfigError

C = TypeVar("C", bound="Config")

Preference = Literal["safer", "better"]
PREFERENCES: tuple[str, ...] = ("safer", "better")


def flag(name: str) -> str:
    """A setting's name as users type it on the command line."""
    return f"--{name.replace('_', '-')}"


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of all stage configs: validation hook and JSON round trip."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ConfigError` for any out-of-range value. Subclasses extend this."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        path.write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no setting(s) {', '.join(unknown)}.",
                f"Known settings: {', '.join(sorted(known))}.",
            )
        return cls(**data)

    @classmethod
    def load(cls: type[C], path: Path) -> C:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"Cannot read config {path}: {exc}", "Delete it to start that stage afresh."
            ) from exc
        return cls.from_dict(data)


@dataclasses.dataclass(frozen=True)
class DataConfig(Config):
    """How to load and normalise one preference data source."""

    source: str
    """Local file or folder (jsonl, json, csv, parquet, arrow, `save_to_disk`), or a hub id."""

    columns: dict[str, str] = dataclasses.field(default_factory=dict)
    """Canonical name -> source column, for schemas not recognised by their columns
    (canonical names: prompt, chosen, rejected, slice, split)."""

    preference: Preference = "safer"
    """PKU-SafeRLHF only: prefer the safer response (`safer_response_id`) or the more
    helpful one (`better_response_id`)."""

    hub_split: str | None = None
    """Hub ids only: which split to load; None loads every split."""

    test_fraction: float = 0.2
    """Share of pairs held out for testing when the data carries no split; whole prompts
    are held out so no prompt is in both splits."""

    seed: int = 0
    """Seed of the train/test split."""

    max_chars: int = 100_000
    """Rows whose prompt or response is longer than this many characters are skipped."""

    def validate(self) -> None:
        if not self.source:
            raise ConfigError("No data source given.", "Pass a file, folder or hub id.")
        if self.preference not in PREFERENCES:
            raise ConfigError(
                f"--preference must be one of {', '.join(PREFERENCES)}, not {self.preference!r}."
            )
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(
                f"test_fraction must be between 0 and 1 (exclusive), not {self.test_fraction}."
            )
        if self.max_chars < 1:
            raise ConfigError(f"max_chars must be positive, not {self.max_chars}.")
        allowed = {"prompt", "chosen", "rejected", "slice", "split"}
        bad = sorted(set(self.columns) - allowed)
        if bad:
            raise ConfigError(
                f"Cannot map columns to {', '.join(bad)}.",
                f"--columns maps these canonical names: {', '.join(sorted(allowed))}.",
            )


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

    epochs: float = 8.0
    """Passes over the training rows."""

    batch_size: int = 1024
    """Activation rows per optimiser step."""

    learning_rate: float = 4e-4
    """Adam learning rate (sae-lens default schedule: constant)."""

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

    def resolved(self, d_in: int) -> tuple[int, int]:
        """(n_latents, k) for activations of width `d_in`."""
        n_latents = self.n_latents or 8 * d_in
        k = self.k or max(1, min(64, round(64 * d_in / 1024)))
        if k > n_latents:
            raise ConfigError(
                f"k ({k}) cannot exceed n_latents ({n_latents}).", "Lower --k or raise --n-latents."
            )
        return n_latents, k
