from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.config import ReportConfig
from safer_engine.labels import LabelStore
from safer_engine.progress import CancelToken, no_progress
from safer_engine.report.gather import gather, score_histogram
from safer_engine.workspace import Workspace
from tests.audit_workspace import Annotated, add_results, annotate
from tests.run_records import EXPERIMENT


@pytest.fixture
def audited(synthetic_workspace: Path) -> tuple[Workspace, Annotated]:
    notes = annotate(synthetic_workspace)
    add_results(synthetic_workspace)
    return Workspace.open(synthetic_workspace), notes


def test_everything_the_report_shows_is_gathered(audited: tuple[Workspace, Annotated]) -> None:
    workspace, notes = audited
    data = gather(
        workspace, notes.sae_id, ReportConfig(examples=3), "now", no_progress, CancelToken()
    )
    assert data.selection.source == "tags"
    assert [f.feature for f in data.facts] == [notes.unsafe, notes.safe]  # by |salience|
    assert [v.chosen.side for v in data.features] == ["unsafe", "safe"]
    unsafe = data.features[0]
    assert unsafe.facts.judge_score == 5 and unsafe.facts.effect is not None
    assert 0 < len(unsafe.examples) <= 3
    strongest = unsafe.examples[0]
    assert strongest.example.activation == pytest.approx(unsafe.facts.max_act, rel=1e-3)
    assert strongest.pair_id is not None and len(strongest.pair_id) == 16
    assert sum(unsafe.histogram) > 0 and len(data.hist_edges) == len(unsafe.histogram) + 1
    assert data.n_features == 64 and data.original_text
    assert data.pair_scores is not None and data.pair_scores.current
    assert {"pair_id", "score", "prompt"} <= set(data.pair_scores.table.columns)
    assert sorted(p.config["mode"] for p in data.plans) == ["poison", "random-flip"]
    assert data.compared["poison-5pct-1a2b3c4d-rabc123-s0"].run_id == "clean-rabc123-s0"
    assert data.experiment is not None and data.experiment.report_id == EXPERIMENT
    assert data.benchmark is not None and data.benchmark.report_id == "report-noise-0123abcd"
    assert data.overview.data is not None and data.overview.sae["k"] == 4
    assert data.missing == ["A reward model: `safer train-rm`."]


def test_scores_from_an_earlier_selection_are_marked(audited: tuple[Workspace, Annotated]) -> None:
    workspace, notes = audited
    with LabelStore.open(workspace.labels_path, author="bob") as store:
        store.tag(notes.sae_id, notes.top[-1], "unsafe")
    data = gather(
        workspace, notes.sae_id, ReportConfig(features=1), "now", no_progress, CancelToken()
    )
    assert data.pair_scores is not None and not data.pair_scores.current
    assert len(data.facts) == 3 and len(data.features) == 1


def test_a_bare_workspace_names_what_is_missing(synthetic_workspace: Path) -> None:
    workspace = Workspace.open(synthetic_workspace)
    data = gather(
        workspace, workspace.sae_ids()[-1], ReportConfig(), "now", no_progress, CancelToken()
    )
    assert data.selection.source == "salience"
    assert data.pair_scores is None and data.experiment is None and data.benchmark is None
    assert data.missing == [
        "A reward model: `safer train-rm`.",
        "Pair scores: `safer score-pairs`.",
        "Retrained runs: `safer retrain PLAN` or `safer experiment`.",
        "The experiment: `safer experiment`.",
        "The noise benchmark: `safer benchmark noise`.",
    ]


def test_train_scores_are_binned_per_slice_on_shared_edges(
    audited: tuple[Workspace, Annotated],
) -> None:
    workspace, notes = audited
    data = gather(workspace, notes.sae_id, ReportConfig(), "now", no_progress, CancelToken())
    assert data.pair_scores is not None
    table = data.pair_scores.table
    edges, counts = score_histogram(table, bins=10)
    assert len(edges) == 11 and list(counts) == ["safety", "general"]
    train = table.filter(table["split"] == "train")
    assert sum(sum(c) for c in counts.values()) == train.height
