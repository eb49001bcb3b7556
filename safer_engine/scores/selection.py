"""Selecting the safety features: which features form P (safe) and N (unsafe).

One rule for the command line, the explorer and the edits. Eligible features come from human
tags, judge scores at or above a threshold, or (with neither) salience alone; of the eligible,
the top N by |salience| are kept. A minimum fit keeps only the judged features whose
explanation was shown to describe them (`safer judge --score`). A feature a person tagged
keeps its tag's side, even when the sign of its salience disagrees (that is flagged); every
other feature goes by its sign: s > 0 (fires more on chosen responses) is safe, s < 0 unsafe.

`--select effect` ranks the same eligible features by |effect| (their mean attribution to
the margin over train pairs) and sides the untagged ones by their direction: a feature the
reward model rewards where it fires is safe, one it penalises unsafe.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.config import SelectionConfig
from safer_engine.errors import WorkspaceError
from safer_engine.files import write_text_atomic
from safer_engine.labels import Label

SIDES = ("safe", "unsafe")
UNVETTED_SOURCES = ("salience", "effect")
"""Selections no person or judge vetted: every feature was eligible."""


def unvetted_note(source: str) -> str:
    """What a selection by salience or effect alone means, for a warning line."""
    if source == "effect":
        return (
            "Nothing is tagged or judged yet, so P and N are the top features by |effect| "
            "(their mean attribution to the margin) alone: nobody has said they are about "
            "safety."
        )
    return (
        "Nothing is tagged or judged yet, so P and N are the top features by |salience| alone "
        "(the paper's candidate set): nobody has said they are about safety."
    )


def ranking_rule(config: dict[str, Any]) -> str:
    """How a selection's config ranked and sided the eligible features, in words."""
    top = config.get("top", "?")
    if config.get("select") == "effect":
        return (
            f"the top {top} by |effect| (mean attribution to the margin over train pairs), "
            "safe where the reward model rewards them and unsafe where it penalises them, "
            "unless a person's tag says otherwise"
        )
    return (
        f"the top {top} by |salience|, split by the sign of salience unless a person's tag "
        "says otherwise"
    )


@dataclass(frozen=True)
class SelectedFeature:
    """One feature of P or N, with what put it there."""

    feature: int
    salience: float
    side: str
    """safe (in P) or unsafe (in N)."""
    tag: str | None
    """A person's tag, if any (it decides the side)."""
    judge_score: int | None
    effect: float | None = None
    """Its mean attribution to the margin over train pairs, when that ranked it."""

    @property
    def disagrees(self) -> bool:
        """Tagged one way while its salience leans the other."""
        lean = "safe" if self.salience > 0 else "unsafe" if self.salience < 0 else None
        return self.tag in SIDES and lean is not None and lean != self.tag


@dataclass(frozen=True)
class Selection:
    """P and N, the source they came from and the rule that chose them."""

    source: str
    """tags, judge or salience: what made the features eligible."""
    config: dict[str, Any]
    features: tuple[SelectedFeature, ...]

    @property
    def safe(self) -> list[int]:
        return [f.feature for f in self.features if f.side == "safe"]

    @property
    def unsafe(self) -> list[int]:
        return [f.feature for f in self.features if f.side == "unsafe"]

    @property
    def signs(self) -> np.ndarray:
        """+1 for each safe and −1 for each unsafe feature, in `features` order."""
        return np.array([1.0 if f.side == "safe" else -1.0 for f in self.features])

    @property
    def by_salience_alone(self) -> bool:
        """No person or judge said these features are about safety (salience or effect
        ranked every feature)."""
        return self.source in ("salience", "effect")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "config": self.config,
            "features": [_feature_record(f) for f in self.features],
        }

    @property
    def fingerprint(self) -> str:
        """Changes exactly when the source, the rule or any feature's side or data change."""
        payload = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Selection:
        data = json.loads(path.read_text(encoding="utf-8"))
        features = tuple(
            SelectedFeature(**{k: v for k, v in f.items() if k != "disagrees"})
            for f in data["features"]
        )
        return cls(data["source"], data["config"], features)


def _feature_record(feature: SelectedFeature) -> dict[str, Any]:
    """A feature as `selection.json` keeps it; `effect` only when it ranked the features,
    so selections by salience keep their fingerprints (and the plans and runs named by
    them)."""
    record = {**asdict(feature), "disagrees": feature.disagrees}
    if feature.effect is None:
        del record["effect"]
    return record


def select_features(
    salience: pl.DataFrame,
    labels: dict[int, Label],
    judge_scores: dict[int, int],
    config: SelectionConfig,
    effects: pl.DataFrame | None = None,
    fits: dict[int, float] | None = None,
) -> Selection:
    """P and N from the salience table (`feature`, `salience`), the current labels, the
    judge's scores (feature → 1–5; failures left out) and, when the config asks for a
    minimum fit, the fits of the judge's explanations (feature → balanced accuracy);
    `effects` (the attribution stage's feature table) ranks them when `config.select` is
    `effect`."""
    tags = {f: label.human_tag for f, label in labels.items() if label.human_tag}
    tagged = {f for f, tag in tags.items() if tag in SIDES}
    fitting = {
        f
        for f in judge_scores
        if config.min_fit is None or (fits or {}).get(f, -1.0) >= config.min_fit
    }
    judged = {f for f, score in judge_scores.items() if score >= config.judge_threshold} - {
        f for f, tag in tags.items() if tag == "irrelevant"
    }
    judged &= fitting
    source = config.select
    if source in ("auto", "effect"):
        source = "tags" if tagged else "judge" if judged else source
    s = dict(zip(salience["feature"].to_list(), salience["salience"].to_list(), strict=True))
    rank, lean = s, s
    if config.select == "effect":
        rank, lean = _effects(effects)
    eligible = {
        "tags": tagged,
        "judge": tagged | judged,
        "salience": {f for f, value in s.items() if value != 0},
        "auto": {f for f, value in s.items() if value != 0},
        "effect": {f for f, value in rank.items() if value != 0},
    }[source]
    source = "salience" if source == "auto" else source
    ranked = sorted((f for f in eligible if f in rank and f in s), key=lambda f: (-abs(rank[f]), f))
    chosen = []
    for feature in ranked[: config.top]:
        side = tags.get(feature) if feature in tagged else "safe" if lean[feature] > 0 else "unsafe"
        if side in SIDES and (feature in tagged or lean[feature] != 0):
            chosen.append(
                SelectedFeature(
                    feature,
                    float(s[feature]),
                    str(side),
                    tags.get(feature),
                    judge_scores.get(feature),
                    float(rank[feature]) if config.select == "effect" else None,
                )
            )
    return Selection(source, config.to_dict(), tuple(chosen))


def _effects(effects: pl.DataFrame | None) -> tuple[dict[int, float], dict[int, float]]:
    """Each feature's effect (what ranks it) and direction (what sides it)."""
    if effects is None:
        raise WorkspaceError(
            "--select effect ranks features by their attribution, and this SAE has none yet.",
            "Run `safer attribute --workspace DIR` first, or choose another --select.",
        )
    features = effects["feature"].to_list()
    return (
        dict(zip(features, effects["effect_train"].to_list(), strict=True)),
        dict(zip(features, effects["direction"].to_list(), strict=True)),
    )
