"""How a judge's explanations are scored: held-out contexts and how they are asked about."""

from __future__ import annotations

import dataclasses
from typing import Literal

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

FitMethod = Literal["detection", "fuzzing"]
METHODS: tuple[FitMethod, ...] = ("detection", "fuzzing")
MAX_CONTEXTS = 200
MAX_BATCH = 20


@dataclasses.dataclass(frozen=True)
class FitConfig(Config):
    """Whether and how each judged feature's explanation is tested on held-out contexts."""

    score: bool = False
    """Also score how well each judged feature's explanation fits it: on held-out contexts,
    ask the judge whether the explanation applies, and store the balanced accuracy (and the
    AUC where answers come with probabilities) as the feature's fit. About
    --score-firing + --score-silent calls per feature; --dry-run counts them."""

    fuzz: bool = False
    """With --score, also score by fuzzing: one token of each context is marked (one the
    feature fires on, or one it does not) and the judge says whether the explanation
    applies to it. As many calls again."""

    score_firing: int = 10
    """Held-out contexts where the feature fires, drawn across its activation quantiles and
    never from the contexts it was explained from."""

    score_silent: int = 10
    """Held-out contexts where the feature does not fire, half of them near misses (another
    part of a response it fires in, another response to the same prompt, a text close in
    the store)."""

    score_batch: int = 1
    """Contexts asked about in one call: 1 asks one at a time (the most reliable); more
    make fewer, longer calls, answered one line per context."""

    logprobs: bool = True
    """Ask the server for the answers' log-probabilities, from which the AUC is computed;
    --no-logprobs for a server that refuses them (the local backend always gives them)."""

    def validate(self) -> None:
        if self.fuzz and not self.score:
            raise ConfigError("--fuzz is a way of scoring explanations.", "Give --score too.")
        counts = (("score-firing", self.score_firing), ("score-silent", self.score_silent))
        for name, value in counts:
            if not 1 <= value <= MAX_CONTEXTS:
                raise ConfigError(
                    f"--{name} must be between 1 and {MAX_CONTEXTS}, not {value}.",
                    "A balanced accuracy needs contexts where the feature fires and where it "
                    "does not.",
                )
        if not 1 <= self.score_batch <= MAX_BATCH:
            raise ConfigError(
                f"--score-batch must be between 1 and {MAX_BATCH}, not {self.score_batch}."
            )

    @property
    def methods(self) -> tuple[FitMethod, ...]:
        """The scoring methods asked for: none, detection, or detection and fuzzing."""
        if not self.score:
            return ()
        return METHODS if self.fuzz else METHODS[:1]
