"""The SAE stages of a workspace: train (`sae/<id>`) or import an SAE, and encode the store
with it (`encode/<id>`)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from safer_engine import artifacts as names
from safer_engine.codes.parts import discard_parts
from safer_engine.codes.reader import sae_files_damage
from safer_engine.config import SAEConfig
from safer_engine.errors import WorkspaceError
from safer_engine.launch import ProcessShare, current_share
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.sae.encode import PART_ROWS, EncodeResult, encode_store
from safer_engine.sae.train import SAETrainResult, train_sae
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import ENCODE, GENERIC, SAE


def default_sae_id(store_path: Path, config: SAEConfig) -> str:
    with StoreReader(store_path) as reader:
        n_latents, k = config.resolved(reader.d_model)
        return f"L{reader.layer}-topk{k}-{n_latents}"


def sae_artifacts(workspace: Workspace, sae_id: str) -> tuple[str, ...]:
    folder = workspace.sae_dir(sae_id)
    return tuple(workspace.relative(folder / n) for n in (names.SAE_CFG, names.SAE_WEIGHTS))


def train_sae_stage(
    workspace: Workspace,
    config: SAEConfig,
    sae_id: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    generic: Path | None = None,
) -> tuple[str, SAETrainResult | None]:
    """Train unless this SAE id already holds an SAE from the same config and inputs.

    `generic` is the generic-text activations file of the `generic` stage, required when the
    config pretrains on generic text.
    """
    store = _require_store(workspace)
    sae_id = sae_id or default_sae_id(store, config)
    extra = {GENERIC: _fingerprint(workspace, GENERIC)} if generic is not None else {}
    stage = Stage(
        SAE,
        config.to_dict(),
        workspace.inputs(SAE, sae_id, **extra),
        sae_artifacts(workspace, sae_id),
        sae_id,
    )
    if workspace.is_current(stage):
        return sae_id, None
    if config.pretrain_text and generic is None:
        raise WorkspaceError(
            "This SAE config pretrains on generic text, but no generic activations were given.",
            "Run the generic stage first (`safer train-sae --pretrain-text FILE` does).",
        )
    result = train_sae(store, config, workspace.sae_dir(sae_id), progress, cancel, generic)
    workspace.record(stage, metrics=result.metrics.__dict__, seconds=round(result.seconds, 1))
    return sae_id, result


def import_sae(workspace: Workspace, folder: Path) -> str:
    """Copy an SAE trained elsewhere (sae-lens format) into the workspace and record it;
    its fingerprint is its weights' hash, so re-importing the same SAE changes nothing."""
    if not (folder / names.SAE_CFG).exists():
        raise WorkspaceError(
            f"{folder} holds no sae-lens SAE (no {names.SAE_CFG}).",
            "Point --sae to a folder saved by sae-lens, or to an SAE id.",
        )
    sae_id = folder.resolve().name
    target = workspace.sae_dir(sae_id)
    if target.resolve() != folder.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.is_file() and item.name not in (names.CODES_FILE, names.FEATURES_FILE):
                shutil.copy2(item, target / item.name)
    weights = hashlib.sha256((target / names.SAE_WEIGHTS).read_bytes()).hexdigest()[:16]
    stage = Stage(
        SAE,
        {"imported_from": str(folder.resolve())},
        workspace.inputs(SAE, sae_id, weights=weights),
        sae_artifacts(workspace, sae_id),
        sae_id,
    )
    if not workspace.is_current(stage):
        workspace.record(stage, fingerprint=weights)
    return sae_id


def resolve_sae(workspace: Workspace, sae: str | None, share: ProcessShare | None = None) -> str:
    """An SAE id of this workspace, a folder to import, or the last trained one. Under a
    launch (`share`) only the main process imports a folder: the others wait for it."""
    if sae is None:
        recorded = workspace.sae_ids()
        if not recorded:
            raise WorkspaceError(
                f"{workspace.root} has no SAE yet.", "Run `safer train-sae --workspace DIR` first."
            )
        return recorded[-1]
    is_name = Path(sae).name == sae  # a path would make sae_dir() point outside
    if is_name and workspace.stage(SAE, sae) is not None:
        return sae
    share = share or ProcessShare()
    folder = Path(sae).expanduser()
    if is_name and not folder.exists():
        known = ", ".join(workspace.sae_ids()) or "none yet"
        raise WorkspaceError(
            f"{workspace.root} has no SAE {sae!r}, and there is no folder of that name here.",
            f"Give one of this workspace's SAE ids ({known}) or a sae-lens folder's path.",
        )
    sae_id = import_sae(workspace, folder) if share.is_main else folder.resolve().name
    share.barrier()
    return sae_id


def encode_stage(
    workspace: Workspace,
    sae_id: str,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
    part_rows: int = PART_ROWS,
) -> EncodeResult | None:
    """None when the codes are up to date with this SAE and store (and still open: damaged
    codes are written again). Under `accelerate launch` every process encodes a share; only
    the main process's result is recorded."""
    store = _require_store(workspace)
    sae_dir = workspace.sae_dir(sae_id)
    codes = workspace.relative(sae_dir / names.CODES_FILE)
    stage = Stage(ENCODE, {}, workspace.inputs(ENCODE, sae_id), (codes,), sae_id)
    share = current_share()
    if (
        not force
        and workspace.is_current(stage)
        and sae_files_damage(sae_dir, features=False) is None
    ):
        if share.is_main:  # an unfinished --force run's parts: these codes are as current
            discard_parts(sae_dir / names.CODES_FILE)
        return None
    if share.is_main:
        for derived in (names.FEATURES_FILE, names.SALIENCE_FILE):  # they index the old codes
            (sae_dir / derived).unlink(missing_ok=True)
    result = encode_store(store, sae_dir, progress, cancel, share, part_rows)
    if result.is_main:
        seconds = round(result.seconds, 1)
        workspace.record(stage, rows=result.rows, k=result.k, seconds=seconds)
    return result


def _fingerprint(workspace: Workspace, kind: str) -> str:
    record = workspace.stage(kind)
    if record is None:
        raise WorkspaceError(f"{workspace.root} has no {kind} stage yet.")
    return record.fingerprint


def _require_store(workspace: Workspace) -> Path:
    if not workspace.store_path.exists():
        raise WorkspaceError(
            f"{workspace.root} has no activation store yet.",
            "Run `safer extract --workspace DIR` first.",
        )
    return workspace.store_path
