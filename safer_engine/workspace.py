"""One analysis on disk: its folder layout and its manifest, `workspace.json`.

The manifest records, per finished stage, the config it ran with, the fingerprint of its
input and the package versions, so a later run can tell whether a stage is up to date.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import platformdirs
import polars as pl

from safer_engine.errors import WorkspaceError
from safer_engine.labels import LABELS_FILE

MANIFEST = "workspace.json"
MANIFEST_VERSION = 1
TRACKED_PACKAGES = ("safer-explorer", "polars", "torch", "transformers", "sae-lens", "h5py")


def default_workspace() -> Path:
    """Where `safer demo` works unless told otherwise: the user's data folder."""
    return Path(platformdirs.user_data_dir("safer-explorer")) / "demo"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class Workspace:
    """Paths of one analysis; `open` creates the folder and manifest when asked."""

    root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def pairs_path(self) -> Path:
        return self.root / "data" / "pairs.parquet"

    @property
    def rm_dir(self) -> Path:
        return self.root / "rm"

    @property
    def rm_model_dir(self) -> Path:
        return self.rm_dir / "model"

    @property
    def store_path(self) -> Path:
        return self.root / "store.h5"

    @property
    def labels_path(self) -> Path:
        return self.root / LABELS_FILE

    def sae_dir(self, sae_id: str) -> Path:
        return self.root / "sae" / sae_id

    @classmethod
    def open(cls, root: Path, create: bool = False) -> Workspace:
        root = root.expanduser().resolve()
        workspace = cls(root)
        if root.exists() and not root.is_dir():
            raise WorkspaceError(
                f"{root} is a file, not a workspace folder.", "Choose another --workspace path."
            )
        if not workspace.manifest_path.exists():
            if not create and not root.exists():
                raise WorkspaceError(
                    f"{root} does not exist.",
                    "Check the path, or create a workspace with `safer demo`.",
                )
            if not create:
                raise WorkspaceError(
                    f"{root} is not a SAFER workspace (no {MANIFEST}).",
                    "Create one with `safer data import DATA --workspace DIR` or `safer demo`.",
                )
            if root.exists() and any(root.iterdir()):
                raise WorkspaceError(
                    f"{root} exists, is not empty and is not a SAFER workspace.",
                    "Choose an empty or new folder for --workspace.",
                )
            root.mkdir(parents=True, exist_ok=True)
            workspace._write(
                {"manifest_version": MANIFEST_VERSION, "created": _now(), "stages": {}}
            )
        workspace.manifest()  # fail early on a damaged or newer manifest
        return workspace

    def manifest(self) -> dict[str, Any]:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WorkspaceError(
                f"{self.manifest_path} is damaged ({exc}).",
                "Restore it from a backup, or start a new workspace.",
            ) from exc
        if data.get("manifest_version", 0) > MANIFEST_VERSION:
            raise WorkspaceError(
                f"{self.root} was written by a newer SAFER explorer.",
                "Upgrade safer-explorer to open it.",
            )
        return data

    def pairs(self) -> tuple[pl.DataFrame, str]:
        """The imported pairs and their fingerprint; the data stage must have run."""
        stage = self.stage("data")
        if stage is None or not self.pairs_path.exists():
            raise WorkspaceError(
                f"{self.root} has no imported data yet.",
                "Run `safer data import DATA --workspace DIR` (or `safer demo`) first.",
            )
        return pl.read_parquet(self.pairs_path), str(stage["fingerprint"])

    def stage(self, name: str) -> dict[str, Any] | None:
        """The manifest entry of a finished stage, or None."""
        entry = self.manifest()["stages"].get(name)
        return entry if isinstance(entry, dict) else None

    def record_stage(self, name: str, **info: Any) -> None:
        data = self.manifest()
        data["stages"][name] = {**info, "finished": _now(), "versions": package_versions()}
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        partial = self.manifest_path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        partial.replace(self.manifest_path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
