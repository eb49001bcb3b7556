"""The Runs screen's service: runs with status and accuracy, edited against clean, the latest
experiment, and a retrain whose every failure is recorded as one and reaches the caller as a
SaferError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import safer_engine.retrain.run as retrain_module
from safer_engine.errors import Cancelled, TrainingError
from safer_engine.progress import CancelToken, no_progress
from safer_engine.service.explorer import Explorer
from safer_engine.service.runs import CANCELLED, RunsService
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace
from safer_engine.workspace.runs import read_run, start_run
from tests.run_records import EXPERIMENT, hand_made_runs, hand_made_summary


@pytest.fixture
def explorer(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = build_synthetic_workspace(
        tmp_path / "ws", n_pairs=20, tokens_per_doc=12, n_latents=64, k=4
    )
    opened = Explorer.open(root, author="alice")
    yield opened
    opened.close()


def test_runs_comparisons_and_the_latest_experiment(explorer: Explorer) -> None:
    service = RunsService(explorer)
    assert service.runs() == [] and service.comparisons() == []
    assert service.latest_experiment() is None
    hand_made_runs(explorer.workspace.root)
    rows = service.runs()
    assert [r.run_id.split("-r")[0] for r in rows] == [
        "clean",
        "poison-5pct-1a2b3c4d",
        "random-flip-5pct-s0-5e6f7a8b",
        "denoise-10pct-9c0d1e2f",
    ]
    assert [r.status for r in rows] == ["done", "done", "done", CANCELLED]
    assert rows[1].accuracy["safety"] == 0.8 and rows[1].seed == 0
    assert rows[1].edited == {"safety": 9, "general": 1} and rows[0].plan is None
    found = service.comparisons()
    assert [c.plan for c in found] == ["poison-5pct-1a2b3c4d", "random-flip-5pct-s0-5e6f7a8b"]
    assert found[0].clean_id == "clean-rabc123-s0"
    assert found[0].change["safety"] == pytest.approx(0.8 - 0.92)
    assert found[0].change["general"] == pytest.approx(0.84 - 0.85)

    hand_made_summary(explorer.workspace.root)
    view = service.latest_experiment()
    assert view is not None and view.experiment_id == EXPERIMENT
    assert view.slices() == ["safety", "general"]
    poison = [r for r in view.rows if r.method == "safer-poison" and r.slice == "safety"]
    assert [(r.ratio, r.accuracy, r.label) for r in poison] == [
        (1.0, 0.88, "SAFER poisoning"),
        (5.0, 0.76, "SAFER poisoning"),
    ]


def test_a_crash_inside_the_retrain_is_recorded_as_failed(
    explorer: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (not a SaferError) while training leaves no run `running` and reaches the
    screens as a SaferError; a cancelled retrain stops before anything."""
    service = RunsService(explorer)
    clean_id, edited_id = service.run_ids(None)
    assert edited_id is None and clean_id.startswith("clean-")

    def crash(workspace: Any, plan: Any, recipe: Any, seed: int, *args: Any) -> None:
        start_run(workspace, clean_id, {"seed": seed}, {})
        raise RuntimeError("boom")

    monkeypatch.setattr(retrain_module, "retrain", crash)
    with pytest.raises(TrainingError, match="boom"):
        service.retrain(None, no_progress, CancelToken())
    run = read_run(explorer.workspace, clean_id)
    assert run.status == "failed" and "boom" in run.error

    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        service.retrain(None, no_progress, cancel)


def test_the_time_each_recipe_took_last(explorer: Explorer) -> None:
    from safer_engine.workspace.runs import Run, write_run

    service = RunsService(explorer)
    assert service.last_seconds() == {}
    workspace = explorer.workspace
    for run_id, recipe, started, finished in (
        ("clean-fast-aaa-s0", "fast", "2026-01-01T10:00:00+00:00", "2026-01-01T10:00:04+00:00"),
        ("clean-full-bbb-s1", "full", "2026-01-01T11:00:00+00:00", "2026-01-01T11:02:30+00:00"),
        ("clean-fast-aaa-s1", "fast", "2026-01-01T12:00:00+00:00", "2026-01-01T12:00:06+00:00"),
    ):
        config = {"recipe": recipe, "seed": 0}
        write_run(workspace, Run(run_id, "done", config, {}, started=started, finished=finished))
    assert service.last_seconds() == {"fast": 6.0, "full": 150.0}
    assert [row.recipe for row in service.runs()] == ["fast", "full", "fast"]


def test_a_manual_plan_is_named_by_its_pair_list(explorer: Explorer) -> None:
    from safer_engine import artifacts
    from safer_engine.edits.plan import EditPlan
    from safer_engine.edits.stage import plan_dir

    service = RunsService(explorer)
    for plan_id, config, selection in (
        ("manual-remove-1", {"mode": "manual", "pairs": "benchmark/remove-cleanlab.txt"}, None),
        ("poison-5pct-2", {"mode": "poison"}, {"source": "tags"}),
        ("random-flip-5pct-s0-3", {"mode": "random-flip"}, None),
    ):
        path = plan_dir(explorer.workspace, plan_id) / artifacts.PLAN_FILE
        EditPlan(plan_id, config, "d" * 64, 20, (), selection).save(path)
    assert service.plan_source("manual-remove-1") == "remove-cleanlab"
    assert service.plan_source("poison-5pct-2") == "tags"
    assert service.plan_source("random-flip-5pct-s0-3") == ""
