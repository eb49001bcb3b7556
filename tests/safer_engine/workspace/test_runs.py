"""Runs: the base reward model and retrains, each in its own folder, listed by one call."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.errors import WorkspaceError
from safer_engine.workspace import Workspace
from safer_engine.workspace.runs import (
    BASE_RUN,
    finish_run,
    list_runs,
    read_run,
    run_dir,
    start_run,
)

RECIPE = {"recipe": "fast", "epochs": 2}


def test_a_workspace_without_a_model_has_no_runs(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    assert list_runs(workspace) == []
    with pytest.raises(WorkspaceError, match="no reward model yet"):
        read_run(workspace, BASE_RUN)


def test_retrains_are_listed_after_the_base_run_in_start_order(trained_workspace: Path) -> None:
    workspace = Workspace.open(trained_workspace)
    (base,) = list_runs(workspace)
    assert base.is_base and base.status == "done"
    assert run_dir(workspace, BASE_RUN) == workspace.rm_dir
    first = start_run(workspace, "clean-s0", RECIPE, {"data": "abc"})
    second = start_run(workspace, "poison-5-s0", RECIPE, {"data": "abc", "plan": "p1"}, "p1")
    assert [run.run_id for run in list_runs(workspace)] == [BASE_RUN, "clean-s0", "poison-5-s0"]
    assert read_run(workspace, "poison-5-s0").status == "running"
    done = finish_run(workspace, second, safety=0.9)
    failed = finish_run(workspace, first, error="out of memory")
    assert read_run(workspace, "poison-5-s0") == done
    assert done.status == "done" and done.info == {"safety": 0.9} and done.plan == "p1"
    assert failed.status == "failed" and failed.error == "out of memory"
    assert (workspace.runs_dir / "clean-s0" / "run.json").is_file()
    # a resumed run keeps its first start time
    assert start_run(workspace, "clean-s0", RECIPE, {"data": "abc"}).started == first.started


@pytest.mark.parametrize("name", ["", "../escape", "base", "a/b", "x" * 101])
def test_run_ids_that_cannot_name_a_folder_are_refused(tmp_path: Path, name: str) -> None:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    with pytest.raises(WorkspaceError, match="cannot name a run"):
        start_run(workspace, name, RECIPE, {})


def test_a_damaged_run_record_is_a_clear_error(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    start_run(workspace, "r1", RECIPE, {})
    (workspace.runs_dir / "r1" / "run.json").write_text("{not json")
    with pytest.raises(WorkspaceError, match="is damaged"):
        list_runs(workspace)
    with pytest.raises(WorkspaceError, match="has no run 'r2'"):
        read_run(workspace, "r2")
