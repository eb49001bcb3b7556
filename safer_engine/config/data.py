"""How a preference data source is loaded and split."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

Preference = Literal["safer", "better"]
PREFERENCES: tuple[str, ...] = ("safer", "better")


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
