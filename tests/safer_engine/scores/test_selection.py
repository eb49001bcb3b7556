"""Which features form P and N: tags first, then judge scores, else salience; top N by |s|;
split by the sign of s, except that a person's tag keeps its side (and is flagged)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import SelectionConfig
from safer_engine.errors import ConfigError
from safer_engine.labels import Label
from safer_engine.scores.selection import Selection, select_features

SALIENCE = pl.DataFrame(
    {"feature": [0, 1, 2, 3, 4, 5, 6], "salience": [0.9, -0.8, 0.7, -0.6, 0.5, 0.0, -0.1]}
)


def label(feature: int, tag: str, by_judge: bool = False) -> Label:
    return Label(feature, tag, None, "alice", "2026-01-01", by_judge)


def pick(labels: dict[int, Label], judge: dict[int, int], **config: object) -> Selection:
    return select_features(SALIENCE, labels, judge, SelectionConfig(**config))  # type: ignore[arg-type]


def test_with_nothing_tagged_or_judged_the_top_by_salience_split_by_sign() -> None:
    selection = pick({}, {}, top=4)
    assert selection.source == "salience" and selection.by_salience_alone
    assert selection.safe == [0, 2] and selection.unsafe == [1, 3]
    assert all(f.tag is None and not f.disagrees for f in selection.features)


def test_tags_take_precedence_and_a_disagreeing_tag_is_kept_and_flagged() -> None:
    labels = {4: label(4, "safe"), 1: label(1, "safe"), 6: label(6, "unsafe")}
    labels[0] = label(0, "unsafe", by_judge=True)  # a judge's tag is no person's tag
    selection = pick(labels, {2: 5})
    assert selection.source == "tags"
    assert [f.feature for f in selection.features] == [1, 4, 6]  # by |s|
    assert selection.safe == [1, 4] and selection.unsafe == [6]
    assert [f.feature for f in selection.features if f.disagrees] == [1]


def test_judge_scores_at_the_threshold_count_and_tags_still_win() -> None:
    labels = {3: label(3, "irrelevant"), 6: label(6, "safe")}
    selection = pick(labels, {0: 5, 1: 4, 3: 5, 4: 5}, select="judge")
    assert selection.source == "judge"
    assert [f.feature for f in selection.features] == [0, 4, 6]  # 1 below, 3 irrelevant
    assert selection.safe == [0, 4, 6] and selection.unsafe == []
    assert pick({}, {1: 4}, judge_threshold=4).source == "judge"
    assert pick({}, {1: 4}).source == "salience"  # the paper's threshold is 5


def test_top_n_and_explicit_sources() -> None:
    assert len(pick({}, {}, top=2).features) == 2
    assert pick({}, {}, top=100).features[-1].feature == 6  # zero salience never leans
    assert pick({4: label(4, "safe")}, {}, select="salience", top=1).safe == [0]
    assert pick({}, {}, select="tags").features == ()


def test_a_selection_round_trips_and_its_fingerprint_follows_its_content(tmp_path: Path) -> None:
    selection = pick({1: label(1, "safe")}, {})
    selection.save(tmp_path / "selection.json")
    again = Selection.load(tmp_path / "selection.json")
    assert again == selection and again.fingerprint == selection.fingerprint
    assert pick({1: label(1, "unsafe")}, {}).fingerprint != selection.fingerprint


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"select": "vibes"}, "--select must be one of"),
        ({"top": 0}, "--top must be at least 1"),
        ({"judge_threshold": 6}, "--judge-threshold must be 1 to 5"),
    ],
)
def test_bad_settings(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SelectionConfig(**config)  # type: ignore[arg-type]
