"""One analysis on disk: its folder layout, its manifest and the two stage operations.

`is_current(stage)` says whether a stage can be skipped; `record(stage)` writes what a
finished stage produced. Every stage, the synthetic builder and the CLI go through these
two, so there is one rule for freshness (see `safer_engine.workspace.stages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from safer_engine import artifacts as names
from safer_engine.errors import WorkspaceError
from safer_engine.workspace.manifest import (
    empty_manifest,
    now,
    package_versions,
    read_manifest,
    write_manifest,
)
from safer_engine.workspace.stages import (
    COMMANDS,
    DATA,
    PER_SAE,
    UPSTREAM,
    Stage,
    StageRecord,
    new_fingerprint,
    stage_key,
    upstream_keys,
)

if TYPE_CHECKING:
    import polars as pl


def default_workspace() -> Path:
    """Where `safer demo` works unless told otherwise: the user's data folder."""
    return Path(platformdirs.user_data_dir("safer-explorer")) / "demo"


class _At:
    """A path under the workspace's root, read as an attribute: the layout as one table."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, workspace: Workspace, owner: type) -> Path:
        return workspace.root.joinpath(*self.parts)


@dataclass(frozen=True)
class Workspace:
    """Paths of one analysis; `open` creates the folder and manifest when asked."""

    root: Path

    # -- layout: the files of every stage, under the root -----------------------------------

    manifest_path = _At(names.MANIFEST)
    pairs_path = _At(names.DATA_DIR, names.PAIRS_FILE)
    rm_dir = _At(names.RM_DIR)
    rm_model_dir = _At(names.RM_DIR, names.MODEL_DIR)
    eval_path = _At(names.RM_DIR, names.EVAL_FILE)
    store_path = _At(names.STORE_FILE)
    labels_path = _At(names.LABELS_FILE)
    runs_dir = _At(names.RUNS_DIR)

    def sae_dir(self, sae_id: str) -> Path:
        return self.root / names.SAE_ROOT / sae_id

    def generic_path(self, fingerprint: str) -> Path:
        return self.root / names.GENERIC_DIR / f"{fingerprint}.npy"

    def relative(self, path: Path) -> str:
        """`path` as an artifact name: relative to the root, with forward slashes."""
        return path.relative_to(self.root).as_posix()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, root: Path, create: bool = False) -> Workspace:
        root = root.expanduser().resolve()
        workspace = cls(root)
        if root.exists() and not root.is_dir():
            raise WorkspaceError(
                f"{root} is a file, not a workspace folder.", "Choose another --workspace path."
            )
        if not workspace.manifest_path.exists():
            if not create:
                raise _not_a_workspace(root)
            if root.exists() and any(root.iterdir()):
                raise WorkspaceError(
                    f"{root} exists, is not empty and is not a SAFER workspace.",
                    "Choose an empty or new folder for --workspace.",
                )
            root.mkdir(parents=True, exist_ok=True)
            write_manifest(workspace.manifest_path, empty_manifest())
        workspace.manifest()  # fail early on a damaged or newer manifest
        return workspace

    def manifest(self) -> dict[str, Any]:
        return read_manifest(self.manifest_path)

    def pairs(self) -> tuple[pl.DataFrame, str]:
        """The imported pairs and their fingerprint; the data stage must have run."""
        stage = self.stage(DATA)
        if stage is None or not self.pairs_path.exists():
            raise WorkspaceError(
                f"{self.root} has no imported data yet.",
                "Run `safer data import DATA --workspace DIR` for your own data, "
                "or `safer demo` for the embedded demo.",
            )
        import polars as pl  # here: opening a workspace (`safer tui`) needs no polars

        return pl.read_parquet(self.pairs_path), stage.fingerprint

    # -- stages ----------------------------------------------------------------------------

    def stage(self, kind: str, sae_id: str | None = None) -> StageRecord | None:
        """The record of a finished stage, or None."""
        return self.records().get(stage_key(kind, sae_id))

    def records(self) -> dict[str, StageRecord]:
        """Every finished stage's record, by key."""
        stages = self.manifest()["stages"]
        return {key: StageRecord.from_dict(entry) for key, entry in stages.items()}

    def inputs(self, kind: str, sae_id: str | None = None, **extra: str) -> dict[str, str]:
        """The fingerprints a stage of `kind` would read now, plus `extra` outside inputs.

        Raises a WorkspaceError naming the command to run when an upstream stage is missing.
        """
        records = self.records()
        inputs: dict[str, str] = {}
        for key in upstream_keys(kind, sae_id):
            record = records.get(key)
            if record is None:
                missing = key.split("/")[0]
                raise WorkspaceError(
                    f"{self.root} has no {_describe(missing)} yet.",
                    f"Run `{COMMANDS[missing]}` first.",
                )
            inputs[key] = record.fingerprint
        return {**inputs, **extra}

    def is_current(self, stage: Stage) -> bool:
        """The stage's record matches its config and inputs, and everything upstream holds."""
        records = self.records()
        record = records.get(stage.key)
        return (
            record is not None
            and record.config == stage.config
            and record.inputs == stage.inputs
            and _holds(record, records, self.root)
        )

    def stale(self) -> list[str]:
        """Keys of recorded stages that no longer hold (an upstream changed or a file went)."""
        records = self.records()
        return [key for key, record in records.items() if not _holds(record, records, self.root)]

    def record(self, stage: Stage, fingerprint: str | None = None, **info: Any) -> StageRecord:
        """Record a finished stage; its fingerprint is new unless given (content hashes)."""
        finished = now()
        record = StageRecord(
            kind=stage.kind,
            config=stage.config,
            inputs=stage.inputs,
            artifacts=list(stage.artifacts),
            fingerprint=fingerprint or new_fingerprint(stage, finished),
            finished=finished,
            versions=package_versions(),
            info=info,
            sae_id=stage.sae_id,
        )
        data = self.manifest()
        data["stages"][stage.key] = record.to_dict()
        write_manifest(self.manifest_path, data)
        return record

    def sae_ids(self) -> list[str]:
        """SAEs with any stage recorded here, the one worked on most recently last."""
        latest: dict[str, str] = {}
        for record in self.records().values():
            if record.kind in PER_SAE and record.sae_id:
                latest[record.sae_id] = max(latest.get(record.sae_id, ""), record.finished)
        return sorted(latest, key=lambda sae_id: latest[sae_id])


def _holds(record: StageRecord, records: dict[str, StageRecord], root: Path) -> bool:
    """Artifacts present, and every recorded upstream input still the upstream's output."""
    if not all((root / artifact).exists() for artifact in record.artifacts):
        return False
    for key, fingerprint in record.inputs.items():
        if key.split("/")[0] not in UPSTREAM:
            continue  # an outside input (a source file's hash): compared by is_current only
        upstream = records.get(key)
        if upstream is None or upstream.fingerprint != fingerprint:
            return False
        if not _holds(upstream, records, root):
            return False
    return True


def _describe(kind: str) -> str:
    return {
        "data": "imported data",
        "rm": "reward model",
        "eval": "evaluation",
        "extract": "activation store",
        "generic": "generic-text activations",
        "sae": "SAE",
        "encode": "SAE codes",
        "salience": "salience table",
        "scores": "pair scores",
        "margins": "reward margins",
    }[kind]


def _not_a_workspace(root: Path) -> WorkspaceError:
    start = (
        "Create one with `safer data import DATA --workspace DIR` (your own data) "
        "or `safer demo` (the embedded demo)."
    )
    if not root.exists():
        return WorkspaceError(f"{root} does not exist.", f"Check the path. {start}")
    return WorkspaceError(f"{root} is not a SAFER workspace (no {names.MANIFEST}).", start)
