"""The loop in a noisy workspace, and SAFER's pair scores there: the reward model, its
margins, the activations, the SAE, its codes and salience (and the attributions when SAFER
ranks by effect, the judge's scores when asked), then the pairs scored by the salient or
effective features and by the judge's."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import polars as pl

from safer_engine.config import AttributionConfig, JudgeConfig, SelectionConfig
from safer_engine.progress import CancelToken, Progress
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.selection import Selection
from safer_engine.scores.stage import compute_pair_scores, current_selection, score_pairs
from safer_engine.workspace import Workspace

if TYPE_CHECKING:
    from safer_engine.benchmark.cell import Settings


def run_loop(
    workspace: Workspace,
    settings: Settings,
    seed: int,
    progress: Progress,
    cancel: CancelToken,
) -> str:
    """The reward model, its margins, the activations, the SAE, its codes and salience, and
    the attributions when SAFER ranks by effect."""
    from safer_engine.activations.stage import extract_stage
    from safer_engine.sae.stage import encode_stage, train_sae_stage
    from safer_engine.salience.stage import salience_stage
    from safer_engine.train.stage import eval_from_margins, margins_stage, train_rm_stage

    train_rm_stage(workspace, dataclasses.replace(settings.rm, seed=seed), progress, cancel)
    eval_from_margins(workspace, margins_stage(workspace, progress, cancel))
    extract_stage(workspace, settings.extract, progress, cancel)
    sae = dataclasses.replace(settings.sae, seed=seed)
    sae_id, _ = train_sae_stage(workspace, sae, None, progress, cancel)
    encode_stage(workspace, sae_id, progress, cancel)
    salience_stage(workspace, sae_id, "train", progress, cancel)
    if settings.config.select == "effect":
        from safer_engine.attribution.stage import attribute

        attribute(workspace, sae_id, AttributionConfig(), progress, cancel)
    if settings.config.judge:
        _judge(workspace, sae_id, progress, cancel)
    return sae_id


def _judge(workspace: Workspace, sae_id: str, progress: Progress, cancel: CancelToken) -> None:
    """The LLM judge's scores of the noisy SAE's most salient features (cached answers are
    reused, so a resumed benchmark asks only for what is new)."""
    from safer_engine.judge import judge_features, make_backend, plan_judging
    from safer_engine.labels import JudgementLog, LabelStore

    config = JudgeConfig()
    backend = make_backend(config)
    key = (backend.name, backend.model, backend.base_url)
    with LabelStore.open(workspace.labels_path) as store:
        log = JudgementLog(store)
        plan = plan_judging(workspace, sae_id, config, key, log, progress, cancel)
        report = judge_features(plan, backend, log, config.concurrency, progress, cancel)
    if report.stopped is not None:
        raise report.stopped


def safer_scores(
    workspace: Workspace, sae_id: str, select: str, progress: Progress, cancel: CancelToken
) -> tuple[pl.DataFrame, str]:
    """Pair scores from the top features by salience or effect: the recorded scores
    stage."""
    config = SelectionConfig(select=select)  # type: ignore[arg-type]
    judged = judge_scores(workspace, sae_id)
    result = score_pairs(workspace, sae_id, config, judged, progress, cancel)
    return result.table, described(result.selection)


def judge_pair_scores(
    workspace: Workspace, sae_id: str, progress: Progress, cancel: CancelToken
) -> tuple[pl.DataFrame, str] | None:
    """Pair scores from the features the judge scored at the threshold, when it has judged
    any (computed, not recorded, so they never replace the salience scores' record)."""
    judged = judge_scores(workspace, sae_id)
    if not judged:
        return None
    config = SelectionConfig(select="judge")
    selection = current_selection(workspace, sae_id, config, judged)
    if not selection.features:
        return None
    store, sae_dir = workspace.store_path, workspace.sae_dir(sae_id)
    return compute_pair_scores(store, sae_dir, selection, progress, cancel), described(selection)


def described(selection: Selection) -> str:
    return (
        f"{len(selection.safe)} safe and {len(selection.unsafe)} unsafe features by "
        f"{selection.source}"
    )
