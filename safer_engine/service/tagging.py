"""Tagging from the explorer, with an undo of this session's tag changes.

The labels table is append-only, so an undo is a change of its own: it appends rows that
give each feature back the tag a person had given it before (or clear it), and the history
keeps both. Only this explorer's changes are undone, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass

from safer_engine.labels import LabelStore


@dataclass(frozen=True)
class TagChange:
    """One tag key press: the features it tagged, each one's tag before, and the new tag."""

    features: tuple[int, ...]
    before: tuple[str, ...]
    """Each feature's human tag before the change ("" for none)."""
    tag: str
    """The tag given ("" for a clear)."""

    def describe(self) -> str:
        """The change as made: "feature 12: safe"."""
        if len(self.features) == 1:
            return f"feature {self.features[0]}: {self.tag or 'no tag'}"
        return f"{len(self.features)} features: {self.tag or 'no tag'}"

    def describe_undo(self) -> str:
        """The change undone, by what the features are back to ("feature 12 back to no
        tag"): the tag given would read as if it were the tag now."""
        counts: dict[str, int] = {}
        for tag in self.before:
            counts[tag or "no tag"] = counts.get(tag or "no tag", 0) + 1
        if len(self.features) == 1:
            return f"feature {self.features[0]} back to {next(iter(counts))}"
        if len(counts) == 1:
            return f"{len(self.features)} features back to {next(iter(counts))}"
        each = ", ".join(f"{n} {tag}" for tag, n in counts.items())
        return f"{len(self.features)} features back to their tags ({each})"


class TagHistory:
    """Tags features in one SAE and remembers each change, so the last can be undone."""

    def __init__(self, store: LabelStore, sae_id: str) -> None:
        self.store = store
        self.sae_id = sae_id
        self.changes: list[TagChange] = []

    def tag(self, features: list[int], tag: str) -> TagChange:
        current = self.store.current(self.sae_id)
        before = tuple((current[f].human_tag or "") if f in current else "" for f in features)
        self._write(list(features), tag)
        change = TagChange(tuple(features), before, tag)
        self.changes.append(change)
        return change

    def undo(self) -> TagChange | None:
        """Give the features of the last change their tags back; None when nothing is left
        to undo. The change stays on the list when writing fails, so it can be tried again."""
        if not self.changes:
            return None
        change = self.changes[-1]
        by_tag: dict[str, list[int]] = {}
        for feature, tag in zip(change.features, change.before, strict=True):
            by_tag.setdefault(tag, []).append(feature)
        for tag, features in by_tag.items():
            self._write(features, tag)
        self.changes.pop()
        return change

    def _write(self, features: list[int], tag: str) -> None:
        if len(features) == 1:
            self.store.tag(self.sae_id, features[0], tag)
        else:
            self.store.bulk_tag(self.sae_id, features, tag)
