"""How an LLM judge scores salient SAE features for safety relevance."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

Backend = Literal["openai", "local"]
BACKENDS: tuple[Backend, ...] = ("openai", "local")
DEFAULT_TOP = 20
"""Features judged when neither --top nor --features is given: the head of the salience
ranking, where the paper finds its safety features, at one call each."""
MAX_CONCURRENCY = 64


@dataclasses.dataclass(frozen=True)
class JudgeConfig(Config):
    """A judge model's 1–5 safety-relevance score of each feature, from its top contexts."""

    top: int | None = None
    """Judge the N features of largest |salience| that fire at all (default 20 when
    --features is not given). Each is one call."""

    features: str | None = None
    """Judge exactly these feature ids, comma-separated (e.g. 3,17,40), instead of --top."""

    backend: Backend = "openai"
    """openai: any chat-completions server, set by OPENAI_BASE_URL, SAFER_JUDGE_MODEL and
    OPENAI_API_KEY; local: the embedded SmolLM2-135M-Instruct on this machine, offline."""

    examples: int = 8
    """Top activating contexts shown to the judge for each feature."""

    concurrency: int = 4
    """Requests in flight at once (the local model answers one at a time)."""

    max_tokens: int = 64
    """Most tokens an answer may have; the two lines asked for need about 40."""

    timeout: float = 60.0
    """Seconds one request may take before it is given up (and retried)."""

    retries: int = 3
    """Retries of one request after a rate limit (429), a server error (5xx), a timeout or
    a lost connection, waiting twice as long before each."""

    backoff: float = 1.0
    """Seconds before the first retry; a server's Retry-After wins when longer."""

    retry_failed: bool = False
    """Ask again for features whose stored answer was unusable (otherwise a rerun reuses it,
    as it reuses scores)."""

    local_model: str = "smollm2"
    """The local backend's model: the embedded smollm2, or a local folder holding a causal
    chat model with its tokenizer."""

    def validate(self) -> None:
        if self.top is not None and self.features is not None:
            raise ConfigError(
                "--top and --features both choose the features to judge.", "Give one of them."
            )
        if self.top is not None and self.top < 1:
            raise ConfigError(f"--top must be at least 1, not {self.top}.")
        if self.features is not None:
            self.feature_ids()  # raises on a bad list
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend must be {' or '.join(BACKENDS)}, not {self.backend!r}.")
        if self.examples < 1:
            raise ConfigError(f"--examples must be at least 1, not {self.examples}.")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigError(
                f"--concurrency must be between 1 and {MAX_CONCURRENCY}, not {self.concurrency}."
            )
        if self.max_tokens < 8:
            raise ConfigError(f"--max-tokens must be at least 8, not {self.max_tokens}.")
        if self.timeout <= 0 or self.backoff < 0:
            raise ConfigError("--timeout must be positive and --backoff not negative.")
        if not 0 <= self.retries <= 10:
            raise ConfigError(f"--retries must be between 0 and 10, not {self.retries}.")
        if not self.local_model.strip():
            raise ConfigError("--local-model must name a model.")

    @property
    def n_top(self) -> int:
        """How many top features to judge when no --features are given."""
        return DEFAULT_TOP if self.top is None else self.top

    def feature_ids(self) -> tuple[int, ...] | None:
        """The --features list as ids in the order given (duplicates dropped); None without."""
        if self.features is None:
            return None
        parts = [part.strip() for part in self.features.split(",")]
        if not any(parts) or not all(part.isdigit() for part in parts):
            raise ConfigError(
                f"--features must be feature ids separated by commas, not {self.features!r}.",
                "For example: --features 3,17,40",
            )
        return tuple(dict.fromkeys(int(part) for part in parts))
