from __future__ import annotations

import json
from pathlib import Path

import pytest

from safer_engine.config import DataConfig
from safer_engine.data.load import load_preferences
from safer_engine.data.stage import import_data
from safer_engine.errors import WorkspaceError
from safer_engine.workspace import Workspace


def test_import_writes_pairs_config_and_manifest(tmp_path: Path, fixture_data: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    config = DataConfig(str(fixture_data / "generic.csv"))
    first = import_data(workspace, load_preferences(config))
    assert not first.reused
    assert workspace.pairs_path.is_file()
    assert DataConfig.load(workspace.pairs_path.parent / "data_config.json") == config
    stage = workspace.stage("data")
    assert stage is not None
    assert stage.fingerprint == first.data.fingerprint
    assert stage.info["pairs"] == 4
    assert "polars" in stage.versions


def test_second_import_of_same_data_reuses(tmp_path: Path, fixture_data: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    config = DataConfig(str(fixture_data / "generic.csv"))
    import_data(workspace, load_preferences(config))
    written = workspace.pairs_path.stat().st_mtime_ns
    assert import_data(workspace, load_preferences(config)).reused
    assert workspace.pairs_path.stat().st_mtime_ns == written


def test_opening_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a SAFER workspace"):
        Workspace.open(tmp_path)
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(WorkspaceError, match="not empty and is not a SAFER workspace"):
        Workspace.open(tmp_path, create=True)


def test_damaged_or_newer_manifest(tmp_path: Path) -> None:
    Workspace.open(tmp_path / "ws", create=True)
    manifest = tmp_path / "ws" / "workspace.json"
    manifest.write_text(json.dumps({"manifest_version": 99, "stages": {}}))
    with pytest.raises(WorkspaceError, match="newer SAFER explorer"):
        Workspace.open(tmp_path / "ws")
    manifest.write_text("{not json")
    with pytest.raises(WorkspaceError, match="is damaged"):
        Workspace.open(tmp_path / "ws")
