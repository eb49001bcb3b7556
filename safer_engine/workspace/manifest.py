"""`workspace.json`: reading it (migrating older versions in memory) and writing it atomically."""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from safer_engine.errors import WorkspaceError
from safer_engine.files import write_text_atomic
from safer_engine.workspace.migrate import migrate_v1

MANIFEST_VERSION = 2
TRACKED_PACKAGES = ("safer-explorer", "polars", "torch", "transformers", "sae-lens", "h5py")


def now() -> str:
    """The local time, to the second, as the manifest records it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def empty_manifest() -> dict[str, Any]:
    return {"manifest_version": MANIFEST_VERSION, "created": now(), "stages": {}}


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at `path` in the current version's shape.

    An older manifest is migrated in memory only; it is written back in the new shape the
    next time a stage is recorded, so read-only workspaces open too.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkspaceError(
            f"{path} is damaged ({exc}).", "Restore it from a backup, or start a new workspace."
        ) from exc
    version = data.get("manifest_version", 0)
    if version > MANIFEST_VERSION:
        raise WorkspaceError(
            f"{path.parent} was written by a newer SAFER explorer (manifest version {version}).",
            "Upgrade safer-explorer to open it.",
        )
    if version < MANIFEST_VERSION:
        data = migrate_v1(data)
    return data


def write_manifest(path: Path, data: dict[str, Any]) -> None:
    data = {**data, "manifest_version": MANIFEST_VERSION}
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
