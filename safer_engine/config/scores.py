"""Which features count as safety features, for pair scores and the edits built on them."""

from __future__ import annotations

import dataclasses
from typing import Literal

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
