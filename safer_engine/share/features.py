"""What is known about each feature, in one row: its figures from the salience table, a
person's tag and note, the judge's score, the judge's fit and the attribution's effect.

The audit report and the Neuronpedia export both read features through here, so they say
the same thing. Torch-free: the explorer writes the report from a worker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from safer_engine import artifacts as names
from safer_engine.errors import WorkspaceError
from safer_engine.labels import Judgement, Label, LabelStore
from safer_engine.labels.judgements import judgements
from safer_engine.share.attribution import Effect, read_effects
from safer_engine.workspace import Workspace
from safer_engine.workspace.stages import SALIENCE

FIGURES = (
    "feature",
    "rank",
    "salience",
    "density",
    "max_act",
    "fire_rate_chosen",
    "fire_rate_rejected",
    "mean_act_chosen",
    "mean_act_rejected",
)
"""The salience table's columns a feature's row carries."""


@dataclass(frozen=True)
class FeatureFacts:
    """One feature: what the data says of it, and what people and the judge said."""

    feature: int
    rank: int
    """By |salience|: 1 is the largest."""
    salience: float
    """> 0: fires more on chosen responses; < 0: more on rejected ones."""
    density: float
    """The share of stored tokens it fires on."""
    max_act: float
    fire_rate_chosen: float
    fire_rate_rejected: float
    mean_act_chosen: float
    mean_act_rejected: float
    tag: str | None = None
    tag_by_judge: bool = False
    """The tag is the judge's suggestion: no person has tagged the feature."""
    tag_author: str = ""
    note: str | None = None
    judgement: Judgement | None = None
    """The judge's latest score (or, with none, its latest failure)."""
    fit: float | None = None
    """How well the judge's explanation predicts where the feature fires (None: not
    scored)."""
    effect: Effect | None = None
    """Its mean attribution to the reward margin (None: attribution has not run)."""

    @property
    def judge_score(self) -> int | None:
        return self.judgement.score if self.judgement is not None else None

    @property
    def leans(self) -> str:
        """Which responses it fires more on: chosen, rejected, or neither."""
        return "chosen" if self.salience > 0 else "rejected" if self.salience < 0 else "neither"


def analysed_sae(workspace: Workspace, sae_id: str | None) -> str:
    """`sae_id` when this workspace has salience for it; None: the SAE whose salience was
    computed last."""
    finished = {
        str(r.sae_id): r.finished
        for r in workspace.records().values()
        if r.kind == SALIENCE and r.sae_id
    }
    if sae_id is None and finished:
        return max(finished, key=lambda found: finished[found])
    if sae_id is not None and sae_id in finished:
        return sae_id
    known = f" (SAEs with one: {', '.join(sorted(finished))})" if finished else ""
    what = (
        f"SAE {sae_id} of {workspace.root} has no salience table yet"
        if sae_id
        else f"{workspace.root} has no SAE with a salience table yet"
    )
    raise WorkspaceError(
        f"{what}{known}.",
        f"Run `safer encode --workspace {workspace.root}` first, or pick one with --sae.",
    )


def feature_facts(
    workspace: Workspace, sae_id: str, features: Sequence[int] | None = None
) -> list[FeatureFacts]:
    """The facts of `features` in that order (None: every feature, by feature id)."""
    table = every = _salience(workspace, sae_id)
    if features is not None:
        order = pl.DataFrame(
            {"feature": list(features), "_order": range(len(features))},
            schema={"feature": pl.Int64, "_order": pl.Int64},
        )
        table = every.join(order, on="feature").sort("_order")
        unknown = sorted(set(features) - set(table["feature"].to_list()))
        if unknown:
            raise WorkspaceError(
                f"SAE {sae_id} has no feature(s) {', '.join(map(str, unknown[:5]))}.",
                f"Its features are 0 to {every.height - 1}.",
            )
    labels = _labels(workspace.labels_path, sae_id)
    judged = judgements(workspace.labels_path, sae_id)
    effects = read_effects(workspace.sae_dir(sae_id)) or {}
    found = []
    for row in table.select(FIGURES).iter_rows(named=True):
        feature = int(row["feature"])
        label = labels.get(feature)
        judgement = judged.get(feature)
        found.append(
            FeatureFacts(
                feature=feature,
                rank=int(row["rank"]),
                salience=float(row["salience"]),
                density=float(row["density"]),
                max_act=float(row["max_act"]),
                fire_rate_chosen=float(row["fire_rate_chosen"]),
                fire_rate_rejected=float(row["fire_rate_rejected"]),
                mean_act_chosen=_finite(row["mean_act_chosen"]),
                mean_act_rejected=_finite(row["mean_act_rejected"]),
                tag=label.tag if label is not None else None,
                tag_by_judge=label.by_judge if label is not None else False,
                tag_author=label.author if label is not None else "",
                note=label.note if label is not None else None,
                judgement=judgement,
                fit=judge_fit(judgement),
                effect=effects.get(feature),
            )
        )
    return found


def judge_fit(judgement: Judgement | None) -> float | None:
    """The judge's fit figure of this judgement, when judgements carry one (scoring the
    judge's explanations against where the feature fires stores it as `fit`); None before
    that, or for a judgement that was not scored."""
    fit = getattr(judgement, "fit", None)
    return float(fit) if fit is not None else None


def _salience(workspace: Workspace, sae_id: str) -> pl.DataFrame:
    path = workspace.sae_dir(sae_id) / names.SALIENCE_FILE
    if not path.exists():
        raise WorkspaceError(
            f"SAE {sae_id} has no salience table yet.",
            f"Run `safer encode --workspace {workspace.root} --sae {sae_id}`.",
        )
    return pl.read_parquet(path, columns=list(FIGURES))


def _labels(path: Path, sae_id: str) -> dict[int, Label]:
    if not path.exists():
        return {}
    with LabelStore.open(path, read_only=True) as store:
        return dict(store.current(sae_id))


def _finite(value: float | None) -> float:
    """A mean over no tokens is 0 activation, not a missing number."""
    return 0.0 if value is None or math.isnan(value) else float(value)
