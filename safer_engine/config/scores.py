"""Which features count as safety features, for pair scores and the edits built on them."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

SelectSource = Literal["auto", "tags", "judge", "salience", "effect"]
SELECT_SOURCES: tuple[str, ...] = ("auto", "tags", "judge", "salience", "effect")


@dataclasses.dataclass(frozen=True)
class SelectionConfig(Config):
    """The rule that turns tags, judge scores and salience into the safe (P) and unsafe (N)
    feature sets."""

    select: SelectSource = "auto"
    """Where safety features come from: `tags` (features people tagged safe or unsafe),
    `judge` (tags, plus features the judge scored at or above the threshold), `salience` (the
    top features by |salience| with no relevance filter, the paper's candidate set), or
    `auto`: tags if any, else judge scores if any reach the threshold, else salience; or
    `effect`: eligible as `auto` says, ranked by |effect| (mean attribution to the margin
    over train pairs, from `safer attribute`) instead of |salience|, sides by whether the
    reward model rewards or penalises each feature."""

    top: int = 32
    """Of the eligible features, take this many with the largest |salience| (the paper: 32),
    or |effect| with `--select effect`."""

    judge_threshold: int = 5
    """The lowest judge score (1–5 rubric) that makes a feature eligible (the paper: 5)."""

    min_fit: float | None = None
    """A judged feature is eligible only if its explanation fits it at least this well: the
    balanced accuracy from `safer judge --score` (0.5 is chance, 1 perfect), e.g. 0.7.
    Judged features without a fit are left out; tags are not affected."""

    def validate(self) -> None:
        if self.select not in SELECT_SOURCES:
            raise ConfigError(
                f"--select must be one of {', '.join(SELECT_SOURCES)}, not {self.select!r}."
            )
        if self.top < 1:
            raise ConfigError(f"--top must be at least 1, not {self.top}.")
        if not 1 <= self.judge_threshold <= 5:
            raise ConfigError(
                f"--judge-threshold must be 1 to 5 (the rubric), not {self.judge_threshold}."
            )
        if self.min_fit is not None and not 0 <= self.min_fit <= 1:
            raise ConfigError(
                f"--min-fit is a balanced accuracy, from 0 to 1, not {self.min_fit:g}.",
                "0.5 is what guessing gets; 0.7 asks for explanations that clearly fit.",
            )

    def to_dict(self) -> dict[str, Any]:
        # Without a minimum the record is what it was before the setting existed, so the
        # selections, pair scores and edit plans made then keep their fingerprints and ids.
        found = super().to_dict()
        if self.min_fit is None:
            del found["min_fit"]
        return found
