"""The data stage of a workspace: import a source's canonical table, skip when unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from safer_engine import artifacts as names
from safer_engine.config import DataConfig
from safer_engine.data.load import PreferenceData, save_table
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import DATA


@dataclass(frozen=True)
class ImportResult:
    """What the data stage did: `reused` is True when the workspace already had this data."""

    data: PreferenceData
    reused: bool


def data_stage(config: DataConfig, fingerprint: str) -> Stage:
    """The stage of importing a table: its only input is the table's content fingerprint."""
    return Stage(
        DATA,
        config.to_dict(),
        {"source": fingerprint},
        (f"{names.DATA_DIR}/{names.PAIRS_FILE}",),
    )


def import_data(workspace: Workspace, data: PreferenceData) -> ImportResult:
    """Write loaded pairs to `data/pairs.parquet` unless the same table is there."""
    stage = data_stage(data.config, data.fingerprint)
    if workspace.is_current(stage):
        return ImportResult(data, reused=True)
    save_table(data.table, workspace.pairs_path)
    data.config.save(workspace.pairs_path.parent / names.DATA_CONFIG)
    workspace.record(
        stage,
        fingerprint=data.fingerprint,
        schema=data.schema,
        origin=data.origin,
        pairs=data.table.height,
        skipped=dict(data.report.skipped),
    )
    return ImportResult(data, reused=False)
