"""`safer attribute`: the attribution stage of one SAE, `sae/<id>/attribution/`.

It reads the store (its texts' tokens, layer and standardisation), the analysed reward model
and the SAE, attributes every text in resumable shards (`texts.py`), and writes the pair,
feature and text tables (`tables.py`) into the folder at once, so readers see either the
old attributions or the new ones.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safer_engine import artifacts as names
from safer_engine.attribution.ablation import (
    AblationCheck,
    ablate_pairs,
    sample_pairs,
    summarise,
)
from safer_engine.attribution.files import (
    attribution_dir,
    has_attribution,
    read_pairs,
    read_summary,
)
from safer_engine.attribution.layer_grad import LayerSwap
from safer_engine.attribution.tables import Faithfulness, build_tables, save_tables
from safer_engine.attribution.texts import TextRunner, attribute_shards, read_shards
from safer_engine.config import AblationCheckConfig, AttributionConfig
from safer_engine.errors import StoreError, WorkspaceError
from safer_engine.files import atomic_file, prepare_shards, write_text_atomic
from safer_engine.launch import ProcessShare, current_share
from safer_engine.models.reward_model import load_trained_model
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.sae.encode import load_sae
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Stage, Workspace
from safer_engine.workspace.stages import ATTRIBUTION

SHARDS_SUFFIX = ".shards"
TABLES_LAYOUT = 1
"""Bumped when the tables' columns change, so older attributions count as stale."""


@dataclass(frozen=True)
class AttributionResult:
    folder: Path
    texts: int
    faithfulness: Faithfulness | None
    seconds: float
    shards_reused: int = 0
    reused: bool = False
    """True when the attributions were current and nothing ran."""
    is_main: bool = True


def attribution_stage(workspace: Workspace, sae_id: str, config: AttributionConfig) -> Stage:
    folder = attribution_dir(workspace.sae_dir(sae_id))
    files = (names.ATTRIBUTION_PAIRS, names.ATTRIBUTION_FEATURES, names.ATTRIBUTION_TEXTS)
    return Stage(
        ATTRIBUTION,
        {**config.to_dict(), "layout": TABLES_LAYOUT},
        workspace.inputs(ATTRIBUTION, sae_id),
        tuple(workspace.relative(folder / name) for name in files),
        sae_id,
    )


def attribute(
    workspace: Workspace,
    sae_id: str,
    config: AttributionConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    force: bool = False,
) -> AttributionResult:
    """Attribute every text's and pair's reward to the SAE's features, unless the stage is
    current. Under `accelerate launch` every process attributes a share of the texts; the
    main one writes the tables and records the stage."""
    cancel = cancel or CancelToken()
    share = current_share()
    stage = attribution_stage(workspace, sae_id, config)
    sae_dir = workspace.sae_dir(sae_id)
    if not force and workspace.is_current(stage) and (attribution_dir(sae_dir)).exists():
        return AttributionResult(attribution_dir(sae_dir), 0, None, 0.0, reused=True)
    started = time.perf_counter()
    shards = sae_dir / (names.ATTRIBUTION_DIR + SHARDS_SUFFIX)
    with StoreReader(_store(workspace)) as reader:
        runner = _runner(workspace, sae_dir, reader, config, share)
        if share.is_main:
            prepare_shards(shards, {"config": config.to_dict(), "inputs": stage.inputs})
        share.barrier()
        existing = len(list(shards.glob("shard-*.npz")))
        paths = attribute_shards(runner, shards, progress, cancel, share)
        if not share.is_main:
            seconds = time.perf_counter() - started
            return AttributionResult(shards, 0, None, seconds, is_main=False)
        progress("writing tables", 0, None)
        width = int(runner.sae.cfg.d_sae)
        tables = build_tables(read_shards(paths), reader, width, config.pair_top)
        n_docs = reader.n_docs
    seconds = time.perf_counter() - started
    summary = {
        "config": config.to_dict(),
        "inputs": stage.inputs,
        "texts": n_docs,
        "layer": reader.layer,
        "seconds": round(seconds, 1),
        "faithfulness": tables.faithfulness.to_dict(),
    }
    save_tables(attribution_dir(sae_dir), tables, summary, config)
    shutil.rmtree(shards)
    workspace.record(stage, texts=n_docs, seconds=round(seconds, 1))
    return AttributionResult(
        attribution_dir(sae_dir), n_docs, tables.faithfulness, seconds, existing
    )


def check_attributions(
    workspace: Workspace,
    sae_id: str,
    config: AblationCheckConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> AblationCheck:
    """Ablate the top features of a sample of pairs and compare with their attributions;
    the figures are saved beside the attributions they check."""
    cancel = cancel or CancelToken()
    sae_dir = workspace.sae_dir(sae_id)
    if not has_attribution(sae_dir):
        raise WorkspaceError(
            f"SAE {sae_id} has no attributions to check yet.",
            f"Run `safer attribute --workspace DIR --sae {sae_id}` first (--check runs after it).",
        )
    started = time.perf_counter()
    summary = read_summary(sae_dir)
    with StoreReader(_store(workspace)) as reader:
        runner = load_runner(
            workspace.rm_model_dir,
            sae_dir,
            reader,
            AttributionConfig.from_dict(summary["config"]),
        )
        sample = sample_pairs(read_pairs(sae_dir), config)
        ablations = ablate_pairs(
            runner, sample, reader.chosen_doc, reader.rejected_doc, config, progress, cancel
        )
    check = summarise(ablations, time.perf_counter() - started, config.seed)
    folder = attribution_dir(sae_dir)
    with atomic_file(folder / names.ABLATION_FILE) as partial:
        ablations.write_parquet(partial)
    record = {"config": config.to_dict(), **check.to_dict()}
    write_text_atomic(folder / names.ABLATION_SUMMARY, json.dumps(record, indent=2) + "\n")
    return check


def _store(workspace: Workspace) -> Path:
    if not workspace.store_path.exists():
        raise WorkspaceError(
            f"{workspace.root} has no activation store yet.",
            "Run `safer extract --workspace DIR` first.",
        )
    return workspace.store_path


def load_runner(
    model_dir: Path,
    sae_dir: Path,
    reader: StoreReader,
    config: AttributionConfig,
    device: str | None = None,
) -> TextRunner:
    """The reward model and SAE loaded for attributing the store's texts."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_trained_model(model_dir, device).eval().requires_grad_(False)
    model.to(dtype=_dtype(config, torch.device(device)))
    sae = load_sae(sae_dir, device)
    if int(sae.cfg.d_in) != reader.d_model:
        raise StoreError(
            f"The SAE reads {sae.cfg.d_in}-wide activations, but the store's layer "
            f"{reader.layer} is {reader.d_model} wide.",
            "Use an SAE trained on this store.",
        )
    pad_id = model.config.pad_token_id
    swap = LayerSwap(model, reader.layer)
    return TextRunner(swap, sae, reader, config, int(pad_id or 0), torch.device(device))


def _runner(
    workspace: Workspace,
    sae_dir: Path,
    reader: StoreReader,
    config: AttributionConfig,
    share: ProcessShare,
) -> TextRunner:
    return load_runner(workspace.rm_model_dir, sae_dir, reader, config, share.device)


def _dtype(config: AttributionConfig, device: Any) -> Any:
    import torch

    bf16 = config.precision == "bf16" or (
        config.precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()
    )
    return torch.bfloat16 if bf16 else torch.float32
