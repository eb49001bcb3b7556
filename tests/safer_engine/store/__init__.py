"""Helpers shared by the store and extraction tests."""

from __future__ import annotations

from pathlib import Path

import h5py

from safer_engine.activations.extract import extract_store
from safer_engine.config import ExtractConfig
from safer_engine.workspace import Workspace

CONFIG = ExtractConfig(shard_docs=8, batch_tokens=256)


def extracted(root: Path, config: ExtractConfig = CONFIG) -> Workspace:
    workspace = Workspace.open(root)
    extract_store(workspace, config)
    return workspace


def store_contents(path: Path) -> dict[str, object]:
    contents: dict[str, object] = {}
    with h5py.File(path) as f:
        f.visititems(
            lambda name, obj: (
                contents.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None
            )
        )
        contents.update({f"@{k}": v for k, v in f.attrs.items()})
    return contents


def damage(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    with h5py.File(path, "r+") as f:
        edit(f)
