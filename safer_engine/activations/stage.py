"""The activation stages of a workspace: the store (`extract`) and, for an SAE's first
training stage, activations of generic text (`generic`)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from safer_engine.activations.extract import ExtractResult, extract_store
from safer_engine.activations.generic_text import text_activations
from safer_engine.config import ExtractConfig
from safer_engine.errors import DataError
from safer_engine.files import atomic_file
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.check import check_store
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import DATA, EXTRACT, GENERIC


def extract_stage_of(workspace: Workspace, config: ExtractConfig) -> Stage:
    store = workspace.relative(workspace.store_path)
    return Stage(EXTRACT, config.to_dict(), workspace.inputs(EXTRACT), (store,))


def store_is_current(workspace: Workspace, config: ExtractConfig) -> bool:
    """Recorded with this config, RM and data, and the file still opens as a sound store."""
    return workspace.is_current(extract_stage_of(workspace, config)) and not store_damage(workspace)


def store_damage(workspace: Workspace) -> list[str]:
    """What is wrong with the workspace's store as far as a quick check sees (the file opens,
    its layout, documents, pairs, dataset lengths and data fingerprint); empty when sound."""
    data = workspace.stage(DATA)
    return check_store(workspace.store_path, data.fingerprint if data else None, quick=True)


def extract_stage(
    workspace: Workspace,
    config: ExtractConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> ExtractResult | None:
    """None when the store is already up to date with this config, RM and data; a store
    recorded as up to date that is damaged (truncated, corrupted) is extracted again, and
    the result's `damage` says what was wrong with it."""
    stage = extract_stage_of(workspace, config)
    damage: list[str] = []
    if not force and workspace.is_current(stage):
        damage = store_damage(workspace)
        if not damage:
            return None
    result = extract_store(workspace, config, progress, cancel)
    if not result.is_main:
        return result
    workspace.record(
        stage,
        layer=result.layer,
        docs=result.docs,
        tokens=result.tokens,
        rows=result.rows,
        selected=result.selected,
        seconds=round(result.seconds, 1),
    )
    return replace(result, damage=tuple(damage))


def generic_stage(
    workspace: Workspace,
    text_file: Path,
    max_tokens: int,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Raw activations of a generic text file at the store's layer, as a `.npy` (reused
    while the text, the token budget, the model and the store are unchanged)."""
    text_hash = _file_hash(text_file)
    inputs = workspace.inputs(GENERIC, text=text_hash)
    key = hashlib.sha256(repr([*sorted(inputs.items()), max_tokens]).encode()).hexdigest()[:16]
    target = workspace.generic_path(key)
    stage = Stage(GENERIC, {"tokens": max_tokens}, inputs, (workspace.relative(target),))
    if workspace.is_current(stage):
        return target
    with StoreReader(workspace.store_path) as reader:
        layer = reader.layer
    values = text_activations(
        workspace.rm_model_dir, text_file, layer, max_tokens, progress, cancel or CancelToken()
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as partial, partial.open("wb") as handle:
        np.save(handle, values)
    workspace.record(stage, rows=int(values.shape[0]), text=str(text_file))
    return target


def _file_hash(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: no such text file.", "Give a local UTF-8 text file.")
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise DataError(
            f"Cannot read the generic text {path}: {exc.strerror or exc}.",
            "Give a local UTF-8 text file to --pretrain-text.",
        ) from exc
