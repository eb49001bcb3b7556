"""The SAE stages of a workspace: train (`sae`), encode (`encode`), and the feature view."""

from __future__ import annotations

import shutil
from pathlib import Path

from safer_engine.config import SAEConfig
from safer_engine.errors import WorkspaceError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.sae import CODES_FILE
from safer_engine.sae.encode import EncodeResult, encode_store
from safer_engine.sae.train import SAETrainResult, train_sae
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace

SAE_STAGE = "sae"
ENCODE_STAGE = "encode"


def default_sae_id(store_path: Path, config: SAEConfig) -> str:
    with StoreReader(store_path) as reader:
        n_latents, k = config.resolved(reader.d_model)
        return f"L{reader.layer}-topk{k}-{n_latents}"


def train_sae_stage(
    workspace: Workspace,
    config: SAEConfig,
    sae_id: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[str, SAETrainResult | None]:
    """Train unless this workspace's store already has an SAE from the same config."""
    store = _require_store(workspace)
    sae_id = sae_id or default_sae_id(store, config)
    previous = workspace.stage(SAE_STAGE)
    extract = workspace.stage("extract") or {}
    if (
        previous is not None
        and previous.get("id") == sae_id
        and previous.get("config") == config.to_dict()
        and previous.get("extract_finished") == extract.get("finished")
        and (workspace.sae_dir(sae_id) / "cfg.json").exists()
    ):
        return sae_id, None
    generic = None
    if config.pretrain_text:
        from safer_engine.activations.text import text_activations

        with StoreReader(store) as reader:
            layer, normalise = reader.layer, reader.normalise
        generic = text_activations(
            workspace.rm_model_dir,
            Path(config.pretrain_text),
            layer,
            config.pretrain_tokens,
            normalise,
            progress,
            cancel or CancelToken(),
        )
    result = train_sae(store, config, workspace.sae_dir(sae_id), progress, cancel, generic)
    workspace.record_stage(
        SAE_STAGE,
        id=sae_id,
        config=config.to_dict(),
        extract_finished=extract.get("finished"),
        metrics=result.metrics.__dict__,
    )
    return sae_id, result


def import_sae(workspace: Workspace, folder: Path) -> str:
    """Copy an SAE trained elsewhere (sae-lens format) into the workspace; return its id."""
    if not (folder / "cfg.json").exists():
        raise WorkspaceError(
            f"{folder} holds no sae-lens SAE (no cfg.json).",
            "Point --sae to a folder saved by sae-lens, or to an SAE id.",
        )
    sae_id = folder.resolve().name
    target = workspace.sae_dir(sae_id)
    if target.resolve() != folder.resolve():
        target.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.is_file() and item.name != CODES_FILE:
                shutil.copy2(item, target / item.name)
    return sae_id


def resolve_sae(workspace: Workspace, sae: str | None) -> str:
    """An SAE id of this workspace, a folder to import, or the last trained one."""
    if sae is None:
        stage = workspace.stage(SAE_STAGE)
        if stage is None:
            raise WorkspaceError(
                f"{workspace.root} has no SAE yet.", "Run `safer train-sae --workspace DIR` first."
            )
        return str(stage["id"])
    is_name = Path(sae).name == sae  # a path would make sae_dir() point outside
    if is_name and (workspace.sae_dir(sae) / "cfg.json").exists():
        return sae
    return import_sae(workspace, Path(sae).expanduser())


def encode_stage(
    workspace: Workspace,
    sae_id: str,
    split: str = "train",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> EncodeResult | None:
    store = _require_store(workspace)
    sae_dir = workspace.sae_dir(sae_id)
    previous = workspace.stage(ENCODE_STAGE)
    extract = workspace.stage("extract") or {}
    if (
        not force
        and previous is not None
        and previous.get("id") == sae_id
        and previous.get("split") == split
        and previous.get("extract_finished") == extract.get("finished")
        and previous.get("sae_mtime") == _mtime(sae_dir)
        and (sae_dir / CODES_FILE).exists()
    ):
        return None
    result = encode_store(store, sae_dir, progress, cancel, salience_split=split)
    workspace.record_stage(
        ENCODE_STAGE,
        id=sae_id,
        split=split,
        extract_finished=extract.get("finished"),
        sae_mtime=_mtime(sae_dir),
        rows=result.rows,
        k=result.k,
        seconds=round(result.seconds, 1),
    )
    return result


def _mtime(sae_dir: Path) -> float:
    return (sae_dir / "sae_weights.safetensors").stat().st_mtime


def _require_store(workspace: Workspace) -> Path:
    if not workspace.store_path.exists():
        raise WorkspaceError(
            f"{workspace.root} has no activation store yet.",
            "Run `safer extract --workspace DIR` first.",
        )
    return workspace.store_path
