"""The extraction stage of a workspace: build `store.h5`, or reuse an up-to-date one."""

from __future__ import annotations

from safer_engine.activations.extract import ExtractResult, extract_store
from safer_engine.config import ExtractConfig
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.workspace import Workspace

STAGE = "extract"


def store_is_current(workspace: Workspace, config: ExtractConfig) -> bool:
    done, rm, data = (workspace.stage(n) for n in (STAGE, "rm", "data"))
    return (
        done is not None
        and rm is not None
        and data is not None
        and done.get("config") == config.to_dict()
        and done.get("rm_finished") == rm.get("finished")
        and done.get("data_fingerprint") == data.get("fingerprint")
        and workspace.store_path.exists()
    )


def extract_stage(
    workspace: Workspace,
    config: ExtractConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> ExtractResult | None:
    """None when the store is already up to date with this config, RM and data."""
    if not force and store_is_current(workspace, config):
        return None
    result = extract_store(workspace, config, progress, cancel)
    rm = workspace.stage("rm") or {}
    data = workspace.stage("data") or {}
    workspace.record_stage(
        STAGE,
        config=config.to_dict(),
        rm_finished=rm.get("finished"),
        data_fingerprint=data.get("fingerprint"),
        layer=result.layer,
        docs=result.docs,
        tokens=result.tokens,
        rows=result.rows,
        selected=result.selected,
        seconds=round(result.seconds, 1),
    )
    return result
