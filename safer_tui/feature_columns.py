"""The Features table's columns and filters: what each column shows, how wide it is, where
it gives way on narrow terminals, and how its cells read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safer_engine.labels import TAGS

FILTERS = (
    "firing",
    "untagged",
    *TAGS,
    "leans safe",
    "leans unsafe",
    "effect +",
    "effect −",
    "marked",
    "all",
)
"""`f` steps through these. Only "all" lists the features that never fire: they carry no
signal, and a user would otherwise scroll past them (tags and marks still show them). The
effect filters (features that raise or lower the margin) need attributions."""
EFFECT_FILTERS = ("effect +", "effect −")
HIDES_SILENT = ("firing", "untagged")


@dataclass(frozen=True)
class Column:
    """One column of the Features table."""

    name: str
    width: int
    """Cells are cut to this width; 0 for the note, which takes the width that is left."""
    source: str
    """The feature table's column it shows (tag and note come from the labels)."""
    by_magnitude: bool = False
    """Sort by absolute value: strong negative salience matters as much as positive."""
    descending: bool = True
    """The direction a first sort by this column uses."""
    min_width: int = 0
    """Shown only on terminals at least this wide (`WIDE`, `WIDER`)."""
    optional: bool = False
    """Older feature tables lack it; then it is not shown."""


NARROW = 76
"""Below this many columns density and max give way, so the judge, tag and note still fit."""
WIDE = 100
WIDER = 120
SALIENCE = Column("salience", 8, "salience", by_magnitude=True)
WORD_COLUMN = Column("lift", 6, "lift")
EFFECT = Column("effect", 7, "effect", by_magnitude=True, optional=True)
"""Mean attribution to the margin over train pairs (`safer attribute`): what the feature
does to the reward, beside salience (how differently it fires)."""
JUDGE = Column("judge", 6, "judge")
"""The LLM judge's latest score (1–5; ✗ for a failure): a suggestion beside the tag."""
FIT = Column("fit", 4, "fit", min_width=80)
"""How well the judge's explanation fits (balanced accuracy); shown once any is scored, on
terminals where the note keeps its width beside it."""
FAILED = "✗"
COLUMNS = (
    Column("feature", 7, "feature", descending=False),
    WORD_COLUMN,
    SALIENCE,
    EFFECT,
    Column("chosen", 6, "fire_rate_chosen"),
    Column("rejected", 8, "fire_rate_rejected"),
    Column("all ch", 6, "fire_rate_chosen_all", min_width=WIDER, optional=True),
    Column("all rej", 7, "fire_rate_rejected_all", min_width=WIDER, optional=True),
    Column("mean Δ", 7, "mean_act_diff", by_magnitude=True, min_width=WIDE),
    Column("rate Δ", 7, "firing_rate_diff", by_magnitude=True, min_width=WIDE),
    Column("density", 7, "density", min_width=NARROW),
    Column("max", 6, "max_act", min_width=NARROW),
    JUDGE,
    FIT,
    Column("tag", 10, "tag", descending=False),
    Column("note", 0, "note", descending=False),
)
NUMERIC = tuple(
    c.source for c in COLUMNS if c.source not in ("tag", "note", "lift", "judge", "fit")
)
ZERO = frozenset("+-0.")


def sign_of(text: str) -> str:
    """'positive', 'negative' or 'zero' for a signed figure as printed: +0.000 is zero."""
    if set(text) <= ZERO:
        return "zero"
    return "positive" if text.startswith("+") else "negative"


def cut(text: str, size: int) -> str:
    """`text` in at most `size` characters, an ellipsis where it was cut."""
    return text if len(text) <= size else text[: size - 1] + "…"


def judge_cell(score: float) -> str:
    """A judge score as the table prints it: 1–5, ✗ for a failure, blank when not judged."""
    if np.isnan(score):
        return ""
    return FAILED if score == 0 else str(int(score))
