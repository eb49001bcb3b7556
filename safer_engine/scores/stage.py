"""The pair-score stage: the paper's score of every pair from the selected safety features.

For a response r with selected tokens T_r, S(r) = (1/|T_r|) Σ_t [Σ_{j∈P} z_j(t) − Σ_{j∈N} z_j(t)];
score(pair) = S(chosen) − S(rejected). One vectorised pass over the codes gives every
document's mean activation of each selected feature, from which the scores, S of both sides
and each pair's three most contributing features follow. The scores go to
`sae/<id>/scores/pair_scores.parquet`, with the selection that made them beside it; they are
reused while the selection, the codes and the salience are unchanged. A preview (the
explorer's Edits screen) computes them without writing, and saves them only when asked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.analysis.pair_scores import (
    doc_feature_means,
    pair_contributions,
    top_contributors,
)
from safer_engine.attribution.files import has_attribution, read_effects
from safer_engine.codes.reader import CodesReader
from safer_engine.config import SelectionConfig
from safer_engine.errors import WorkspaceError
from safer_engine.files import atomic_file
from safer_engine.labels import Label, LabelStore
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.scores.judged import judge_fits
from safer_engine.scores.selection import Selection, select_features
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import SCORES

TOP_CONTRIBUTORS = 3


@dataclass(frozen=True)
class PairScores:
    """The scores table, the selection that made them, and whether they were reused."""

    table: pl.DataFrame
    selection: Selection
    reused: bool
    seconds: float
    stage: Stage
    """The stage they were computed as, recorded as it was when they were (see
    `save_pair_scores`)."""


def scores_dir(workspace: Workspace, sae_id: str) -> Path:
    return workspace.sae_dir(sae_id) / names.SCORES_DIR


def current_selection(
    workspace: Workspace, sae_id: str, config: SelectionConfig, judge_scores: dict[int, int]
) -> Selection:
    """The selection the workspace's labels and salience give now (cheap: no pass over
    codes)."""
    table_path = workspace.sae_dir(sae_id) / names.SALIENCE_FILE
    if not table_path.exists():
        raise WorkspaceError(
            f"SAE {sae_id} has no salience table yet.", "Run `safer encode --workspace DIR`."
        )
    salience = pl.read_parquet(table_path, columns=["feature", "salience"])
    labels = _labels(workspace.labels_path, sae_id)
    sae_dir = workspace.sae_dir(sae_id)
    wanted = config.select == "effect" and has_attribution(sae_dir)
    effects = read_effects(sae_dir) if wanted else None
    fits = judge_fits(workspace, sae_id) if config.min_fit is not None else None
    return select_features(salience, labels, judge_scores, config, effects, fits)


def score_stage(workspace: Workspace, sae_id: str, selection: Selection) -> Stage:
    folder = scores_dir(workspace, sae_id)
    made = (names.PAIR_SCORES_FILE, names.SELECTION_FILE)
    return Stage(
        SCORES,
        {"selection": selection.fingerprint},
        workspace.inputs(SCORES, sae_id),
        tuple(workspace.relative(folder / name) for name in made),
        sae_id,
    )


def score_pairs(
    workspace: Workspace,
    sae_id: str,
    config: SelectionConfig,
    judge_scores: dict[int, int],
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> PairScores:
    """Every pair's score under the current selection; reused when nothing changed, saved
    when computed."""
    scores = preview_pair_scores(workspace, sae_id, config, judge_scores, progress, cancel)
    save_pair_scores(workspace, scores)
    return scores


def preview_pair_scores(
    workspace: Workspace,
    sae_id: str,
    config: SelectionConfig,
    judge_scores: dict[int, int],
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> PairScores:
    """Every pair's score under the current selection, the saved ones when they are current;
    nothing is written, so what other commands read stays as it was."""
    started = time.perf_counter()
    selection = current_selection(workspace, sae_id, config, judge_scores)
    stage = score_stage(workspace, sae_id, selection)
    if workspace.is_current(stage):
        table = pl.read_parquet(scores_dir(workspace, sae_id) / names.PAIR_SCORES_FILE)
        return PairScores(table, selection, True, time.perf_counter() - started, stage)
    table = compute_pair_scores(
        workspace.store_path, workspace.sae_dir(sae_id), selection, progress, cancel
    )
    return PairScores(table, selection, False, time.perf_counter() - started, stage)


def save_pair_scores(workspace: Workspace, scores: PairScores) -> None:
    """Write computed scores and record their stage (saved ones are already there)."""
    if scores.reused:
        return
    folder = scores_dir(workspace, str(scores.stage.sae_id))
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(folder / names.PAIR_SCORES_FILE) as partial:
        scores.table.write_parquet(partial)
    scores.selection.save(folder / names.SELECTION_FILE)
    workspace.record(scores.stage, pairs=scores.table.height, source=scores.selection.source)


def compute_pair_scores(
    store_path: Path,
    sae_dir: Path,
    selection: Selection,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> pl.DataFrame:
    """One row per pair (in store order): score, S of each side, rank, and the three features
    that contribute most with their signed shares."""
    features = np.array([f.feature for f in selection.features], dtype=np.int64)
    with StoreReader(store_path) as store, CodesReader(sae_dir, features=False) as codes:
        means = doc_feature_means(
            codes.idx,
            codes.val,
            np.asarray(store.row_doc),
            np.asarray(store.selected),
            store.n_docs,
            features,
            codes.n_latents,
            progress,
            cancel,
        )
        chosen, rejected = store.chosen_doc, store.rejected_doc
        slices, slice_names = store.codes("slice")
        splits, split_names = store.codes("split")
        pair_ids = store.pair_ids()
    signs = selection.signs
    s_doc = means @ signs if len(features) else np.zeros(means.shape[0])
    parts = pair_contributions(means, signs, chosen, rejected)
    columns: dict[str, object] = {
        "pair": np.arange(len(pair_ids), dtype=np.int64),
        "pair_id": pair_ids,
        "slice": np.array(slice_names)[slices],
        "split": np.array(split_names)[splits],
        "score": s_doc[chosen] - s_doc[rejected],
        "s_chosen": s_doc[chosen],
        "s_rejected": s_doc[rejected],
    }
    order, shares = top_contributors(parts, TOP_CONTRIBUTORS)
    for i in range(TOP_CONTRIBUTORS):
        have = i < order.shape[1]
        columns[f"feature_{i + 1}"] = features[order[:, i]] if have else -1
        columns[f"share_{i + 1}"] = shares[:, i] if have else 0.0
    table = pl.DataFrame(columns)
    rank = table["score"].rank(method="ordinal", descending=True).cast(pl.Int64)
    return table.with_columns(rank.alias("rank"))


def _labels(path: Path, sae_id: str) -> dict[int, Label]:
    """The current labels, or none when nobody has labelled anything yet."""
    if not path.exists():
        return {}
    with LabelStore.open(path, read_only=True) as store:
        return dict(store.current(sae_id))
