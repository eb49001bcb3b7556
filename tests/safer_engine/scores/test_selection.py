"""Which features form P and N: tags first, then judge scores, else salience; top N by |s|;
split by the sign of s, except that a person's tag keeps its side (and is flagged)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safer_engine.config import SelectionConfig
from safer_engine.errors import ConfigError, WorkspaceError
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


EFFECTS = pl.DataFrame(
    {
        "feature": [0, 1, 2, 3, 4, 5, 6],
        "effect_train": [0.01, 0.2, 0.0, -0.5, 0.05, 0.3, -0.02],
        "direction": [0.1, -1.0, 0.0, -2.0, 0.4, 1.5, 0.3],
    }
)


def by_effect(labels: dict[int, Label], judge: dict[int, int], **config: object) -> Selection:
    config = SelectionConfig(select="effect", **config)  # type: ignore[arg-type]
    return select_features(SALIENCE, labels, judge, config, EFFECTS)


def test_by_effect_the_top_by_effect_sided_by_the_rewards_direction() -> None:
    selection = by_effect({}, {}, top=3)
    assert selection.source == "effect" and selection.by_salience_alone
    assert [f.feature for f in selection.features] == [3, 5, 1]  # by |effect|
    # 1 fires more on rejected (salience < 0) and is penalised: unsafe, however its
    # effect's sign reads; 5 has no salience at all but the reward model rewards it
    assert selection.safe == [5] and selection.unsafe == [3, 1]
    assert [f.effect for f in selection.features] == [-0.5, 0.3, 0.2]


def test_by_effect_tags_still_decide_what_is_eligible_and_their_sides() -> None:
    labels = {0: label(0, "unsafe"), 3: label(3, "safe"), 4: label(4, "safe")}
    selection = by_effect(labels, {5: 5})
    assert selection.source == "tags"
    assert [f.feature for f in selection.features] == [3, 4, 0]
    assert selection.safe == [3, 4] and selection.unsafe == [0]


def test_selections_by_salience_keep_their_fingerprint_records() -> None:
    """No `effect` key unless effect ranked them: older plans and runs keep their names."""
    assert all("effect" not in f for f in pick({}, {}, top=2).to_dict()["features"])
    assert all("effect" in f for f in by_effect({}, {}, top=2).to_dict()["features"])


def test_by_effect_without_attributions_says_what_to_run() -> None:
    config = SelectionConfig(select="effect")
    with pytest.raises(WorkspaceError, match="safer attribute"):
        select_features(SALIENCE, {}, {}, config, None)
