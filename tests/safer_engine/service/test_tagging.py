"""Tagging from the explorer and undoing it: an undo appends rows giving the tags back."""

from __future__ import annotations

from pathlib import Path

from safer_engine.labels import LabelStore
from safer_engine.service.tagging import TagHistory


def test_undo_gives_each_feature_its_tag_back(tmp_path: Path) -> None:
    with LabelStore.open(tmp_path / "labels.sqlite", author="alice") as store:
        store.tag("sae", 1, "unsafe")
        history = TagHistory(store, "sae")
        assert history.undo() is None  # nothing done in this session yet
        history.tag([1, 2, 3], "safe")
        history.tag([2], "irrelevant")
        assert {f: label.tag for f, label in store.current("sae").items()} == {
            1: "safe",
            2: "irrelevant",
            3: "safe",
        }
        undone = history.undo()
        assert undone is not None and undone.describe() == "feature 2: irrelevant"
        assert undone.describe_undo() == "feature 2 back to safe"
        assert store.current("sae")[2].tag == "safe"
        undone = history.undo()
        assert undone is not None and undone.describe() == "3 features: safe"
        assert undone.describe_undo() == "3 features back to their tags (1 unsafe, 2 no tag)"
        current = store.current("sae")
        assert current[1].tag == "unsafe" and 2 not in current and 3 not in current
        assert history.undo() is None
        # append-only: every change and every undo is a row of its own
        assert [row.tag for row in store.history("sae", 1)] == ["unsafe", "safe", "unsafe"]
