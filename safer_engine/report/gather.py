"""Everything the audit report shows, read from a workspace as plain data: the data and the
models, the reward model's accuracy, the safety features with their examples, the pair
scores, the edit plans and runs, the experiment and the noise benchmark.

A part the workspace does not have yet is left out and named in `missing` with the command
that makes it, so a report of a half-finished analysis says what is still to do. Nothing
here needs torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine import artifacts as names
from safer_engine.codes.examples import Example, FeatureExamples
from safer_engine.config import ReportConfig, SelectionConfig
from safer_engine.data.summary import DataSummary, summarise
from safer_engine.edits.plan import EditPlan
from safer_engine.edits.stage import list_plans
from safer_engine.errors import WorkspaceError
from safer_engine.progress import CancelToken, Progress
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.selection import SelectedFeature, Selection
from safer_engine.scores.stage import current_selection, scores_dir
from safer_engine.share.analysis import dataset_name, json_object
from safer_engine.share.examples import ExamplePairs
from safer_engine.share.features import FeatureFacts, feature_facts
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import Run, compared_runs, list_runs
from safer_engine.workspace.stages import DATA, EXTRACT, RM, SAE

EXTREMES = 5
"""The highest and lowest scoring train pairs shown: what poisoning flips first and
denoising drops first."""


@dataclass(frozen=True)
class Shown:
    """One example as the report draws it: the explorer's spans and the pair it is from."""

    example: Example
    pair_id: str | None


@dataclass(frozen=True)
class FeatureView:
    """A selected safety feature with its histogram and strongest examples."""

    facts: FeatureFacts
    chosen: SelectedFeature
    """Its place in the selection: side (safe or unsafe), tag, judge score."""
    histogram: list[int]
    examples: list[Shown]


@dataclass(frozen=True)
class Overview:
    """What was analysed, and with what."""

    dataset: str
    data: DataSummary | None
    rm: dict[str, Any]
    """The reward model's training config (empty: no reward model in this workspace)."""
    rm_info: dict[str, Any]
    extract: dict[str, Any]
    """The extraction's config and what it stored (layer, documents, tokens)."""
    sae: dict[str, Any]
    """The SAE: latents, k, and its health where it was measured."""
    evaluation: dict[str, Any] | None
    """The reward model's `rm/eval.json` (`safer eval`): overall and per-slice accuracy with
    Wilson intervals, margins, RewardBench sections."""


@dataclass(frozen=True)
class PairScores:
    """Every pair's score under the selection, as `safer score-pairs` saved them."""

    table: pl.DataFrame
    """pair_id, slice, split, score, rank, feature_1 and share_1, prompt."""
    current: bool
    """Made from the selection shown (else from an earlier one: the tags changed since)."""


@dataclass(frozen=True)
class Summary:
    """The latest summary of `safer experiment` or `safer benchmark noise`."""

    report_id: str
    table: pl.DataFrame
    others: int
    """How many earlier ones the workspace also has."""


@dataclass(frozen=True)
class AuditData:
    """The whole report's content."""

    workspace: Path
    sae_id: str
    written: str
    config: ReportConfig
    overview: Overview
    selection: Selection
    facts: list[FeatureFacts]
    """Every selected feature's facts, in the selection's order."""
    features: list[FeatureView]
    """The first `config.features` of them, with examples."""
    n_features: int
    """The SAE's size."""
    original_text: bool
    """Examples show the data's own text (else an old store's re-joined token pieces)."""
    hist_edges: list[float]
    pair_scores: PairScores | None
    plans: list[EditPlan]
    runs: list[Run]
    compared: dict[str, Run]
    """Each finished edited run's id → its clean run."""
    experiment: Summary | None
    benchmark: Summary | None
    missing: list[str] = field(default_factory=list)
    """What the workspace does not have yet, each with the command that makes it."""


def gather(
    workspace: Workspace,
    sae_id: str,
    config: ReportConfig,
    written: str,
    progress: Progress,
    cancel: CancelToken,
) -> AuditData:
    """Read everything the report shows."""
    missing: list[str] = []
    progress("the data and the models", 0, None)
    overview = _overview(workspace, sae_id, missing)
    selection, saved = _selection(workspace, sae_id)
    facts = feature_facts(workspace, sae_id, [f.feature for f in selection.features])
    reader = FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id))
    try:
        views = _feature_views(reader, selection, facts, config, progress, cancel)
        edges = reader.codes.stat("hist_edges").astype(float).tolist()
        n_features, original = reader.n_latents, reader.original_text
    finally:
        reader.close()
    cancel.check("the report")
    progress("pair scores, plans and runs", 0, None)
    scores = _pair_scores(workspace, sae_id, selection, saved, missing)
    runs = list_runs(workspace)
    if not any(not run.is_base for run in runs):
        missing.append("Retrained runs: `safer retrain PLAN` or `safer experiment`.")
    experiment = _latest(workspace.root / names.EXPERIMENTS_DIR, "*/summary.parquet")
    if experiment is None:
        missing.append("The experiment: `safer experiment`.")
    benchmark = _latest(workspace.root / names.BENCHMARKS_DIR, "report-*/summary.parquet")
    if benchmark is None:
        missing.append("The noise benchmark: `safer benchmark noise`.")
    return AuditData(
        workspace=workspace.root,
        sae_id=sae_id,
        written=written,
        config=config,
        overview=overview,
        selection=selection,
        facts=facts,
        features=views,
        n_features=n_features,
        original_text=original,
        hist_edges=edges,
        pair_scores=scores,
        plans=list_plans(workspace),
        runs=runs,
        compared={run.run_id: clean for run, clean in compared_runs(runs)},
        experiment=experiment,
        benchmark=benchmark,
        missing=missing,
    )


def _overview(workspace: Workspace, sae_id: str, missing: list[str]) -> Overview:
    data = workspace.stage(DATA)
    summary = None
    dataset = ""
    if data is not None and workspace.pairs_path.exists():
        summary = summarise(pl.read_parquet(workspace.pairs_path))
        dataset = dataset_name(workspace)
    rm = workspace.stage(RM)
    if rm is None:
        missing.append("A reward model: `safer train-rm`.")
    evaluation = json_object(workspace.eval_path) or None
    if evaluation is None and rm is not None:
        missing.append("The reward model's accuracy: `safer eval`.")
    extract = workspace.stage(EXTRACT)
    sae = workspace.stage(SAE, sae_id)
    trained = json_object(workspace.sae_dir(sae_id) / names.SAE_INFO)
    return Overview(
        dataset=dataset,
        data=summary,
        rm=dict(rm.config) if rm is not None else {},
        rm_info=dict(rm.info) if rm is not None else {},
        extract={**extract.config, **extract.info} if extract is not None else {},
        sae={**(sae.config if sae is not None else {}), **trained},
        evaluation=evaluation,
    )


def _selection(workspace: Workspace, sae_id: str) -> tuple[Selection, Selection | None]:
    """The safety features now, under the rule the saved pair scores used (the default rule
    before any), and the selection those scores were made from."""
    path = scores_dir(workspace, sae_id) / names.SELECTION_FILE
    saved = Selection.load(path) if path.exists() else None
    rule = SelectionConfig.from_dict(saved.config) if saved is not None else SelectionConfig()
    now = current_selection(workspace, sae_id, rule, judge_scores(workspace, sae_id))
    return now, saved


def _feature_views(
    reader: FeatureExamples,
    selection: Selection,
    facts: list[FeatureFacts],
    config: ReportConfig,
    progress: Progress,
    cancel: CancelToken,
) -> list[FeatureView]:
    pairs = ExamplePairs(reader)
    shown = list(zip(facts, selection.features, strict=True))[: config.features]
    views = []
    for done, (fact, chosen) in enumerate(shown):
        cancel.check("the report")
        progress("safety features and their examples", done, len(shown))
        examples = []
        if config.examples:
            found = reader.examples(fact.feature, config.examples, (1.0,), config.context)
            examples = [Shown(e, pairs.pair_id(e)) for e in found]
        views.append(FeatureView(fact, chosen, reader.histogram(fact.feature).counts, examples))
    return views


def _pair_scores(
    workspace: Workspace,
    sae_id: str,
    selection: Selection,
    saved: Selection | None,
    missing: list[str],
) -> PairScores | None:
    path = scores_dir(workspace, sae_id) / names.PAIR_SCORES_FILE
    if not path.exists() or saved is None:
        missing.append("Pair scores: `safer score-pairs`.")
        return None
    table = pl.read_parquet(path)
    prompts = pl.read_parquet(workspace.pairs_path, columns=["pair_id", "prompt"])
    table = table.join(prompts, on="pair_id", how="left")
    return PairScores(table, saved.fingerprint == selection.fingerprint)


def _latest(folder: Path, pattern: str) -> Summary | None:
    """The summary written last under `folder`, as the Runs screen picks its experiment."""
    found = sorted(
        folder.glob(pattern) if folder.is_dir() else [],
        key=lambda p: (p.stat().st_mtime, p.parent.name),
    )
    if not found:
        return None
    try:
        table = pl.read_parquet(found[-1])
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise WorkspaceError(
            f"The summary {found[-1]} cannot be read ({exc}).",
            "Run the experiment or benchmark again to rewrite it.",
        ) from exc
    return Summary(found[-1].parent.name, table, len(found) - 1)


def score_histogram(
    scores: pl.DataFrame, split: str = "train", bins: int = 40
) -> tuple[list[float], dict[str, list[int]]]:
    """The pair scores of one split binned on shared edges, per slice: (edges, counts)."""
    part = scores.filter(pl.col("split") == split)
    values = part["score"].to_numpy()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return [], {}
    low, high = float(finite.min()), float(finite.max())
    if math.isclose(low, high):
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    counts = {}
    for name in sorted(set(part["slice"].to_list()), key=lambda s: (s != "safety", s)):
        own = part.filter(pl.col("slice") == name)["score"].to_numpy()
        counts[name] = np.histogram(own[np.isfinite(own)], bins=edges)[0].tolist()
    return edges.tolist(), counts
