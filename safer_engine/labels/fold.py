"""The merge rule of feature labels: every change is a row, and a feature's current state is
folded from its rows, oldest first. A human (or imported) tag wins over a judge's suggestion;
a note stays until it is changed."""

from __future__ import annotations

import getpass
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from safer_engine.errors import WorkspaceError

TAGS = ("safe", "unsafe", "irrelevant", "unsure")
SOURCES = ("human", "judge", "import")


@dataclass(frozen=True)
class Label:
    """The current state of one feature: its tag and note and who changed it last, when."""

    feature: int
    tag: str | None
    note: str | None
    author: str
    at: str
    by_judge: bool = False
    """The tag is a judge's suggestion (no person has tagged this feature)."""

    @property
    def human_tag(self) -> str | None:
        """The tag a person (or an import) gave, ignoring judge suggestions."""
        return None if self.by_judge else self.tag


@dataclass(frozen=True)
class LabelRow:
    """One stored change, exactly as written."""

    id: int
    sae_id: str
    feature: int
    tag: str | None
    note: str | None
    author: str
    at: str
    source: str


def default_author() -> str:
    """The login name of whoever runs this process, or "unknown"."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # getuser raises OSError/KeyError when no name can be found at all
        return "unknown"


def utc_now() -> str:
    """The current time as UTC ISO-8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def check_tag(tag: str) -> str:
    """`tag` if it is an allowed tag or "" (a clear); a WorkspaceError naming them otherwise."""
    if tag == "" or tag in TAGS:
        return tag
    raise WorkspaceError(
        f"Unknown tag {tag!r}.", f"Use one of: {', '.join(TAGS)} (or an empty tag to clear)."
    )


def check_feature(feature: Any) -> int:
    """`feature` as a non-negative int; a WorkspaceError otherwise."""
    try:
        # operator.index accepts numpy integers but not floats or strings.
        value = operator.index(feature) if not isinstance(feature, bool) else -1
    except TypeError:
        value = -1
    if value < 0:
        raise WorkspaceError(
            f"Feature {feature!r} is not a feature index.", "Use a whole number, 0 or more."
        )
    return value


class _Fold:
    """Folds one feature's rows, oldest first, into its current state."""

    def __init__(self) -> None:
        self.tag: str | None = None
        self.judge_tag: str | None = None
        self.human_tagged = False
        self.note: str | None = None
        self.author = ""
        self.at = ""
        self.judge_author = ""
        self.judge_at = ""

    def add(self, row: LabelRow) -> None:
        """Apply one row on top of the state so far."""
        if row.source == "judge":
            if row.tag is not None:
                self.judge_tag, self.judge_author, self.judge_at = row.tag, row.author, row.at
            return
        if row.tag is not None:
            self.tag, self.human_tagged = row.tag, True
        if row.note is not None:
            self.note = row.note
        self.author, self.at = row.author, row.at

    def label(self, feature: int) -> Label:
        """The current state: a human (or imported) tag wins over any judge suggestion."""
        tag = self.tag if self.human_tagged else self.judge_tag
        author, at = self.author, self.at
        if not self.human_tagged and self.judge_tag is not None and self.judge_at > at:
            author, at = self.judge_author, self.judge_at
        by_judge = not self.human_tagged and self.judge_tag is not None
        return Label(feature, tag or None, self.note or None, author, at, by_judge)


def fold_rows(rows: Iterable[LabelRow]) -> dict[int, Label]:
    """The current tag and note of every feature that has either, from its rows oldest first."""
    folds: dict[int, _Fold] = {}
    for row in rows:
        folds.setdefault(row.feature, _Fold()).add(row)
    labels = {feature: fold.label(feature) for feature, fold in sorted(folds.items())}
    return {f: label for f, label in labels.items() if label.tag or label.note}
