"""A synthetic workspace with what people and later steps add to it: tags and notes, judge
scores, the attribution's effects, pair scores, edit plans, runs, an experiment and a noise
benchmark summary, all written through the engine's own writers (or in their formats), so
the report and the export have every part to show."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from safer_engine.benchmark.cell import Cell, CellOutcome
from safer_engine.benchmark.metrics import Detection
from safer_engine.benchmark.report import results_table, summarise
from safer_engine.config import EditConfig, SelectionConfig
from safer_engine.labels import Judgement, JudgementLog, LabelStore
from safer_engine.scores.judged import judge_scores
from safer_engine.scores.stage import score_pairs
from safer_engine.share.attribution import attribution_path
from safer_engine.workspace import Workspace
from tests.run_records import hand_made_runs, hand_made_summary

JUDGE_MODEL = "judge-test"


@dataclass(frozen=True)
class Annotated:
    sae_id: str
    top: list[int]
    """The features by |salience|, largest first."""
    unsafe: int
    """Tagged unsafe, with a note and a judge score of 5."""
    safe: int
    """Tagged safe."""
    effects: dict[int, tuple[float, float, float]]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file, gzipped or not, as an export wrote them."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def annotate(root: Path) -> Annotated:
    """Tags, a note, judge scores and effects on the top features of a synthetic workspace."""
    workspace = Workspace.open(root)
    sae_id = workspace.sae_ids()[-1]
    table = pl.read_parquet(workspace.sae_dir(sae_id) / "salience.parquet").sort("rank")
    top = table["feature"].to_list()
    unsafe = next(f for f, s in zip(top, table["salience"], strict=True) if s < 0)
    safe = next(f for f, s in zip(top, table["salience"], strict=True) if s > 0)
    with LabelStore.open(workspace.labels_path, author="alice") as store:
        store.tag(sae_id, unsafe, "unsafe")
        store.note(sae_id, unsafe, "fires on <harmful> requests & answers")
        store.tag(sae_id, safe, "safe")
        log = JudgementLog(store)
        log.add(judgement(sae_id, unsafe, 5, "Refusals of harmful requests."))
        log.add(judgement(sae_id, safe, 2, "Everyday chat."))
    effects = {f: (0.01 * (i + 1), -0.02 * (i + 1), float(i)) for i, f in enumerate(top[:4])}
    path = attribution_path(workspace.sae_dir(sae_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "feature": list(effects),
            "effect_train": [e[0] for e in effects.values()],
            "effect_test": [e[1] for e in effects.values()],
            "effect_wrong": [e[2] for e in effects.values()],
        }
    ).write_parquet(path)
    return Annotated(sae_id, top, unsafe, safe, effects)


def judgement(sae_id: str, feature: int, score: int, why: str) -> Judgement:
    return Judgement(
        sae_id, feature, f"h{feature}", "openai", JUDGE_MODEL, None, score, why, None, None, "ok"
    )


def add_results(root: Path) -> None:
    """Pair scores, two saved plans, hand-made runs, an experiment and a benchmark summary."""
    from safer_engine.edits.stage import plan_edits, save_plan

    workspace = Workspace.open(root)
    sae_id = workspace.sae_ids()[-1]
    score_pairs(workspace, sae_id, SelectionConfig(), judge_scores(workspace, sae_id))
    for mode in ("poison", "random-flip"):
        plan = plan_edits(workspace, EditConfig(mode=mode, ratio=10.0), SelectionConfig())
        save_plan(workspace, plan)
    hand_made_runs(root)
    hand_made_summary(root)
    outcomes = [
        CellOutcome(
            Cell(noise, seed),
            root,
            flipped=4,
            safety_train=16,
            detection={
                "safer": Detection(0.8 + seed / 100, 0.6, 0.5, 0.5, 4, 16),
                "random": Detection(0.5, 0.25, 0.25, 0.25, 4, 16),
            },
            accuracy={
                "safer": {"safety": 0.9, "general": 0.8, "all": 0.88},
                "random": {"safety": 0.8, "general": 0.8, "all": 0.8},
                "noisy": {"safety": 0.75, "general": 0.8, "all": 0.76},
                "clean": {"safety": 0.95, "general": 0.85, "all": 0.93},
            },
            rm_accuracy={},
            cleanlab_flagged=None,
            features={"safer": "salience"},
            ran=(),
            trained=0,
        )
        for noise in (10.0, 25.0)
        for seed in (0, 1)
    ]
    folder = root / "benchmarks" / "report-noise-0123abcd"
    folder.mkdir(parents=True)
    summarise(results_table(outcomes)).write_parquet(folder / "summary.parquet")
