"""Sorting, filtering and searching the Features screen's rows (no app needed)."""

from __future__ import annotations

import numpy as np
import polars as pl

from safer_engine.labels import Label
from safer_tui.feature_columns import COLUMNS
from safer_tui.feature_view import FeatureView
from tests.safer_tui.conftest import feature_table


def label(feature: int, tag: str | None = None, note: str | None = None) -> Label:
    return Label(feature, tag, note, "alice", "2026-11-23T00:00:00Z")


def column(name: str):  # type: ignore[no-untyped-def]
    return next(c for c in COLUMNS if c.name == name)


def test_default_order_is_abs_salience_descending() -> None:
    table = feature_table(50)
    view = FeatureView(table, {})
    expected = table.sort("abs_salience", descending=True, maintain_order=True)["feature"]
    assert view.shown_features() == expected.to_list()
    assert len(view) == view.total == 50


def test_each_numeric_column_sorts_and_reverses() -> None:
    table = feature_table(40)
    view = FeatureView(table, {})
    for name, source, magnitude in (
        ("mean Δ", "mean_act_diff", True),
        ("rate Δ", "firing_rate_diff", True),
        ("density", "density", False),
        ("max", "max_act", False),
    ):
        view.sort_by(column(name))
        values = np.array([table[source][f] for f in view.shown_features()])
        key = np.abs(values) if magnitude else values
        assert (np.diff(key) <= 0).all(), name
        view.sort_by(column(name), descending=False)
        values = np.array([table[source][f] for f in view.shown_features()])
        key = np.abs(values) if magnitude else values
        assert (np.diff(key) >= 0).all(), name
    view.sort_by(column("feature"))
    assert view.shown_features() == list(range(40))


def test_tag_and_note_sorts_group_labelled_features_first() -> None:
    labels = {
        7: label(7, "unsafe"),
        3: label(3, "safe", "b note"),
        9: label(9, None, "A note"),
        5: label(5, "irrelevant"),
    }
    view = FeatureView(feature_table(12), labels)
    view.sort_by(column("tag"))
    assert view.shown_features()[:3] == [3, 7, 5]
    view.sort_by(column("note"))
    assert view.shown_features()[:2] == [9, 3]  # case-insensitive alphabetical


def test_filters() -> None:
    table = feature_table(12)
    labels = {0: label(0, "unsafe"), 1: label(1, "safe"), 2: label(2, "unsure")}
    view = FeatureView(table, labels)
    expected = {
        "untagged": set(range(3, 12)),
        "safe": {1},
        "unsafe": {0},
        "unsure": {2},
        "irrelevant": set(),
        "leans safe": {f for f in range(12) if table["salience"][f] > 0},
        "leans unsafe": {f for f in range(12) if table["salience"][f] < 0},
    }
    for name, features in expected.items():
        view.filter = name
        view.update()
        assert set(view.shown_features()) == features, name
    view.marked = {4, 6}
    view.filter = "marked"
    view.update()
    assert set(view.shown_features()) == {4, 6}


def test_features_that_never_fire_are_hidden_unless_asked_for() -> None:
    table = feature_table(12).with_columns(
        pl.when(pl.col("feature").is_in([2, 5]))
        .then(0.0)
        .otherwise(pl.col("density"))
        .alias("density")
    )
    view = FeatureView(table, {5: label(5, "unsafe")})
    assert view.filter == "firing" and view.silent_hidden == 2
    assert set(view.shown_features()) == set(range(12)) - {2, 5}
    view.filter = "untagged"
    view.update()
    assert set(view.shown_features()) == set(range(12)) - {2, 5}
    view.search = "2 3"  # asked for by id: shown all the same
    view.update()
    assert set(view.shown_features()) == {2, 3}
    view.search = ""
    view.filter = "unsafe"  # a tag names the feature: shown even though it never fires
    view.update()
    assert view.shown_features() == [5] and view.silent_hidden == 0
    view.filter = "all"
    view.update()
    assert len(view) == view.total == 12 and view.silent_hidden == 0


def test_search_ids_or_note_text_within_the_filter() -> None:
    labels = {1: label(1, "safe", "Refusal: I can't"), 4: label(4, None, "refusals again")}
    view = FeatureView(feature_table(12), labels)
    view.search = "REFUSAL"
    view.update()
    assert set(view.shown_features()) == {1, 4}
    view.filter = "safe"
    view.update()
    assert view.shown_features() == [1]
    view.filter, view.search = "all", "3, 7 99"
    view.update()
    assert set(view.shown_features()) == {3, 7}  # 99 is not a feature: ignored


def test_labels_change_the_order_and_positions() -> None:
    view = FeatureView(feature_table(12), {})
    view.filter = "untagged"
    view.update()
    first = view.feature_at(0)
    view.set_labels({first: label(first, "safe")})
    assert view.position_of(first) is None
    assert first not in view.shown_features()


def test_feature_ids_need_not_be_contiguous() -> None:
    table = feature_table(3).with_columns(pl.Series("feature", [10, 200, 30]))
    view = FeatureView(table, {200: label(200, "safe")})
    assert view.position_of(200) is not None
    assert view.cells(view.position_of(200))["tag"] == "safe"  # type: ignore[arg-type]
    assert view.row(11) is None and view.row(5000) is None
