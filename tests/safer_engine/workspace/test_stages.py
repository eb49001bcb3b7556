"""The stage model: a stage is current exactly when its config and every upstream fingerprint
match, so changing any input makes everything downstream stale and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from safer_engine.errors import WorkspaceError
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import (
    DATA,
    ENCODE,
    EVAL,
    EXTRACT,
    GENERIC,
    RM,
    SAE,
    SALIENCE,
    upstream_keys,
)

SAE_ID = "L2-topk4-32"
KEYS = ["data", "rm", "eval", "extract", "generic", f"sae/{SAE_ID}", f"encode/{SAE_ID}"]
KEYS.append(f"salience/{SAE_ID}")
DOWNSTREAM = {  # written out by hand from the pipeline, not derived from the code under test
    "data": set(KEYS) - {"data"},
    "rm": set(KEYS) - {"data", "rm"},
    "eval": set(),
    "extract": {"generic", f"sae/{SAE_ID}", f"encode/{SAE_ID}", f"salience/{SAE_ID}"},
    "generic": {f"sae/{SAE_ID}", f"encode/{SAE_ID}", f"salience/{SAE_ID}"},
    f"sae/{SAE_ID}": {f"encode/{SAE_ID}", f"salience/{SAE_ID}"},
    f"encode/{SAE_ID}": {f"salience/{SAE_ID}"},
    f"salience/{SAE_ID}": set(),
}


def stage_of(workspace: Workspace, kind: str, version: int = 1) -> Stage:
    """The stage of `kind` as it would run now, with one artifact file per stage."""
    sae_id = SAE_ID if kind in (SAE, ENCODE, SALIENCE) else None
    artifact = f"{kind}-{sae_id or 'all'}.out"
    (workspace.root / artifact).touch()
    if kind == DATA:
        return Stage(DATA, {"version": version}, {"source": f"table-{version}"}, (artifact,))
    extra = {GENERIC: fingerprint(workspace, GENERIC)} if kind == SAE else {}
    inputs = workspace.inputs(kind, sae_id, **extra)
    return Stage(kind, {"version": version}, inputs, (artifact,), sae_id)


def fingerprint(workspace: Workspace, kind: str) -> str:
    record = workspace.stage(kind)
    assert record is not None
    return record.fingerprint


def run(workspace: Workspace, kind: str, version: int = 1) -> None:
    stage = stage_of(workspace, kind, version)
    workspace.record(stage, fingerprint=f"table-{version}" if kind == DATA else None)


@pytest.fixture
def pipeline(tmp_path: Path) -> Workspace:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    for kind in (DATA, RM, EVAL, EXTRACT, GENERIC, SAE, ENCODE, SALIENCE):
        run(workspace, kind)
    return workspace


def test_a_finished_pipeline_is_current(pipeline: Workspace) -> None:
    assert sorted(pipeline.records()) == sorted(KEYS)
    assert pipeline.stale() == []
    for kind in (RM, EVAL, EXTRACT, GENERIC, SAE, ENCODE, SALIENCE):
        assert pipeline.is_current(stage_of(pipeline, kind)), kind


@pytest.mark.parametrize("key", KEYS)
def test_rerunning_a_stage_makes_exactly_its_downstream_stale(
    pipeline: Workspace, key: str
) -> None:
    kind = key.split("/")[0]
    # a rerun with a changed input: new data for the data stage, a new output otherwise
    run(pipeline, kind, version=2)
    assert set(pipeline.stale()) == DOWNSTREAM[key]
    for other in KEYS:
        other_kind = other.split("/")[0]
        current = pipeline.is_current(stage_of(pipeline, other_kind, 2 if other == key else 1))
        assert current == (other not in DOWNSTREAM[key]), other


def test_a_changed_config_or_a_missing_artifact_is_not_current(pipeline: Workspace) -> None:
    assert not pipeline.is_current(stage_of(pipeline, EXTRACT, version=2))
    (pipeline.root / "extract-all.out").unlink()
    assert set(pipeline.stale()) == DOWNSTREAM["extract"] | {"extract"}


def test_a_missing_upstream_stage_names_the_command_to_run(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / "ws", create=True)
    run(workspace, DATA)
    with pytest.raises(WorkspaceError, match="no reward model yet") as caught:
        workspace.inputs(EXTRACT)
    assert "safer train-rm" in caught.value.hint
    assert upstream_keys(ENCODE, SAE_ID) == ["extract", f"sae/{SAE_ID}"]


def test_records_survive_reopening_and_the_latest_sae_is_found(pipeline: Workspace) -> None:
    again = Workspace.open(pipeline.root)
    assert again.records() == pipeline.records()
    assert again.sae_ids() == [SAE_ID]
    assert again.manifest()["manifest_version"] == 2
