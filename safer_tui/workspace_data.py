"""What the explorer reads from a workspace: the feature table and the labels.

Only torch-free engine modules are used here (polars, h5py, sqlite), so the explorer opens
workspaces on machines without a GPU stack and starts fast.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from safer_engine.errors import SaferError, WorkspaceError
from safer_engine.labels import Label, LabelStore
from safer_engine.sae import SALIENCE_FILE
from safer_engine.sae.examples import FeatureExamples
from safer_engine.workspace import Workspace

# The stages after importing data, each with the command that makes it.
NEXT_STEPS = {"rm": "train-rm", "extract": "extract", "sae": "train-sae", "encode": "encode"}


@dataclass
class WorkspaceData:
    """An opened workspace's SAE features and the labels store they are tagged in."""

    workspace: Workspace
    sae_id: str
    features: pl.DataFrame
    labels: LabelStore
    read_only: bool
    _examples: FeatureExamples | None = field(default=None, init=False, repr=False)
    _opening: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def open(cls, root: Path, author: str | None = None) -> WorkspaceData:
        """Open for exploring, or say which step is missing (a `WorkspaceError`)."""
        workspace = Workspace.open(root)
        stage = workspace.stage("encode") or workspace.stage("sae")
        if stage is None:
            missing = [c for stage, c in NEXT_STEPS.items() if workspace.stage(stage) is None]
            steps = ", then ".join(f"`safer {c} --workspace {workspace.root}`" for c in missing)
            raise WorkspaceError(f"{workspace.root} has no SAE features yet.", f"Run {steps}.")
        sae_id = str(stage["id"])
        table_path = workspace.sae_dir(sae_id) / SALIENCE_FILE
        if not table_path.exists():
            raise WorkspaceError(
                f"SAE {sae_id} has no salience table yet.",
                f"Run `safer encode --workspace {workspace.root}`.",
            )
        features = pl.read_parquet(table_path)
        labels, read_only = _open_labels(workspace.labels_path, author)
        return cls(workspace, sae_id, features, labels, read_only)

    @property
    def examples(self) -> FeatureExamples:
        """Opened on first use (a feature page, the pairs, a word search), not at start-up;
        from whichever worker thread gets there first, once."""
        with self._opening:
            if self._examples is None:
                if not self.workspace.store_path.exists():
                    raise WorkspaceError(
                        f"{self.workspace.root} has no activation store.",
                        "Run `safer extract --workspace DIR`.",
                    )
                self._examples = FeatureExamples(
                    self.workspace.store_path, self.workspace.sae_dir(self.sae_id)
                )
            return self._examples

    def current_labels(self) -> dict[int, Label]:
        return self.labels.current(self.sae_id)

    def tag(self, features: list[int], tag: str) -> None:
        if len(features) == 1:
            self.labels.tag(self.sae_id, features[0], tag)
        else:
            self.labels.bulk_tag(self.sae_id, features, tag)

    def note(self, feature: int, text: str) -> None:
        self.labels.note(self.sae_id, feature, text)

    def close(self) -> None:
        self.labels.close()
        if self._examples is not None:
            self._examples.close()


def _open_labels(path: Path, author: str | None) -> tuple[LabelStore, bool]:
    """Writable when possible; otherwise read-only, so browsing still works."""
    try:
        return LabelStore.open(path, author), False
    except SaferError:
        if not path.exists():
            raise
        return LabelStore.open(path, author, read_only=True), True
