"""The data stage of a workspace: import a source's canonical table, skip when unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from safer_engine.data.load import PreferenceData, save_table
from safer_engine.workspace import Workspace

STAGE = "data"


@dataclass(frozen=True)
class ImportResult:
    """What the data stage did: `reused` is True when the workspace already had this data."""

    data: PreferenceData
    reused: bool


def import_data(workspace: Workspace, data: PreferenceData) -> ImportResult:
    """Write loaded pairs to `data/pairs.parquet` unless the same table is there."""
    config = data.config
    previous = workspace.stage(STAGE)
    if (
        previous is not None
        and previous.get("fingerprint") == data.fingerprint
        and workspace.pairs_path.exists()
    ):
        return ImportResult(data, reused=True)
    save_table(data.table, workspace.pairs_path)
    config.save(workspace.pairs_path.parent / "data_config.json")
    workspace.record_stage(
        STAGE,
        config=config.to_dict(),
        schema=data.schema,
        origin=data.origin,
        fingerprint=data.fingerprint,
        pairs=data.table.height,
        skipped=dict(data.report.skipped),
    )
    return ImportResult(data, reused=False)
