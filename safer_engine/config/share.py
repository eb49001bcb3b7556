"""What the two ways of sharing an analysis write: the Neuronpedia export and the audit report."""

from __future__ import annotations

import dataclasses
import re

from safer_engine.config.base import Config
from safer_engine.errors import ConfigError

NEURONPEDIA_ID = re.compile(r"^[a-z0-9_-]{1,128}$")
"""What Neuronpedia accepts as a model id (its schema lowercases letters, digits, - and _)."""
NEURONPEDIA_DEFAULT_CREATOR = "clkht01d40000jv08hvalcvly"
"""The user a fresh Neuronpedia instance creates everything as (`DEFAULT_CREATOR_USER_ID` in
its webapp's environment; its own exports name that user as every record's creator)."""


@dataclasses.dataclass(frozen=True)
class NeuronpediaConfig(Config):
    """Which features `safer export neuronpedia` writes, with how many examples, under which
    names."""

    model_id: str = ""
    """Neuronpedia's id of the model (lowercase letters, digits, - and _). Empty: the reward
    model's backbone followed by -rm (minilm-rm): the analysed model is a reward model, not
    the backbone Neuronpedia may already hold."""

    set_name: str = ""
    """The source set's name; the source (the SAE) is `<layer>-<set name>`, as Neuronpedia
    names its own. Empty: safer- and the SAE id without its layer (safer-topk24-3072)."""

    features: int = 0
    """Export the N features with the largest |salience|; 0 exports every feature."""

    top_examples: int = 20
    """Each feature's strongest activations (Neuronpedia's top bin)."""

    intervals: int = 5
    """Below the top bin, the feature's activation range (0 to its largest) cut into this
    many equal intervals, each a bin of examples (as SAEDashboard's interval bins); 0 exports
    the top bin only."""

    interval_examples: int = 5
    """Examples from each interval (fewer where an interval holds fewer activations)."""

    context: int = 24
    """Tokens of context before an example's token (half as many after it)."""

    creator_id: str = NEURONPEDIA_DEFAULT_CREATOR
    """The Neuronpedia user id every record names as its creator (default: the user a fresh
    Neuronpedia instance creates its own data as)."""

    creator_name: str = ""
    """Who made the analysis, as the source set names its creator. Empty: this login name."""

    def validate(self) -> None:
        for name in ("model_id", "set_name"):
            value = getattr(self, name)
            if value and not NEURONPEDIA_ID.match(value):
                raise ConfigError(
                    f"--{name.replace('_', '-')} {value!r} is not a Neuronpedia id.",
                    "Use 1 to 128 lowercase letters, digits, - and _.",
                )
        for name in ("features", "intervals", "interval_examples"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be 0 or more, not {getattr(self, name)}."
                )
        if self.top_examples < 1:
            raise ConfigError(f"--top-examples must be at least 1, not {self.top_examples}.")
        if self.context < 1:
            raise ConfigError(f"--context must be at least 1 token, not {self.context}.")
        if not self.creator_id.strip():
            raise ConfigError("--creator-id must not be empty.", "Leave it out for the default.")


@dataclasses.dataclass(frozen=True)
class ReportConfig(Config):
    """How much of each safety feature the audit report (`safer report`) shows."""

    features: int = 32
    """Show the first N selected safety features (the selection's order: largest |salience|
    first), each with its strongest examples."""

    examples: int = 5
    """Each feature's strongest examples, its tokens shaded as the explorer shades them."""

    context: int = 14
    """Tokens of context before an example's token (half as many after it), as the
    explorer's Feature screen shows them."""

    def validate(self) -> None:
        if self.features < 1:
            raise ConfigError(f"--features must be at least 1, not {self.features}.")
        if self.examples < 0:
            raise ConfigError(f"--examples must be 0 or more, not {self.examples}.")
        if self.context < 1:
            raise ConfigError(f"--context must be at least 1 token, not {self.context}.")
