"""`safer encode`: top-k SAE codes for every stored activation row, into `sae/<id>/codes.h5`.

Any SAE that `sae_lens.SAE.load_from_disk` reads works: ours, or one trained elsewhere with
sae-lens. Codes go to their own file next to the SAE, written aside in resumable parts and
renamed when complete, so `store.h5` is never rewritten in place and a crash damages nothing.
Under `accelerate launch` the processes split the parts (on CPU encoding is bound by the
SAE's matrix product, not the disk, so more processes or GPUs make it faster).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.analysis.code_chunks import read_rows
from safer_engine.artifacts import CODES_FILE, SAE_CFG, SAE_WEIGHTS
from safer_engine.codes.parts import CodesLayout, CodesParts, finish_parts, prepare_parts
from safer_engine.errors import ConfigError, ModelError, StoreError
from safer_engine.launch import ProcessShare, current_share, wait_for_files
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.reader import EPS, StoreReader

CHUNK_ROWS = 8192
"""Rows encoded in one call of the SAE."""
PART_ROWS = 16 * CHUNK_ROWS
"""Rows of one resumable part: at most this much work is redone after a kill."""
DEFAULT_K = 64
RESUME_HINT = "Finished parts are kept; run it again to resume."


@dataclass(frozen=True)
class EncodeResult:
    path: Path
    rows: int
    k: int
    n_latents: int
    seconds: float
    parts_reused: int = 0
    processes: int = 1
    """How many processes shared the encoding."""
    is_main: bool = True
    """False in the other processes of a multi-process run: the main one finished the file."""


def load_sae(sae_dir: Path, device: str | None = None) -> Any:
    """An SAE in sae-lens format, on `device`, else on the GPU when there is one."""
    import torch
    from sae_lens import SAE

    if not (sae_dir / SAE_CFG).exists():
        raise ModelError(
            f"{sae_dir} holds no sae-lens SAE (no cfg.json).",
            "Train one with `safer train-sae`, or point --sae to a sae-lens folder.",
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return SAE.load_from_disk(str(sae_dir), device=device)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(
            f"Cannot load the SAE in {sae_dir}: {exc}",
            "Check that cfg.json and sae_weights.safetensors are complete.",
        ) from exc


def codes_k(sae: Any) -> int:
    """TopK SAEs keep their own k; other architectures keep the 64 strongest latents."""
    return int(getattr(sae.cfg, "k", None) or min(DEFAULT_K, sae.cfg.d_sae))


def encode_rows(
    sae: Any, x: np.ndarray, k: int, normalise: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The top-k latents of each row of `x`; `normalise` standardises raw rows first, as
    `normalise_rows` does, on the SAE's device (numpy on one CPU thread would be the
    bottleneck of a GPU's encoding)."""
    import torch

    with torch.inference_mode():
        rows = torch.tensor(x).to(sae.device).float()  # a copy: x may be a read-only map
        if normalise:
            mean = rows.mean(dim=-1, keepdim=True)
            std = rows.std(dim=-1, correction=0, keepdim=True)
            rows = (rows - mean) / (std + EPS)
        acts = sae.encode(rows.to(sae.dtype))
        values, indices = acts.float().topk(k, dim=-1)
    return indices.cpu().numpy().astype(np.int32), values.cpu().numpy().astype(np.float16)


def encode_store(
    store_path: Path,
    sae_dir: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    share: ProcessShare | None = None,
    part_rows: int = PART_ROWS,
) -> EncodeResult:
    """Encode every stored activation row with the SAE in `sae_dir` into its `codes.h5`.

    Rows go in parts of `part_rows`; under `accelerate launch` each process encodes its share
    of the parts and the main process renames the finished file into place. A killed or
    cancelled run resumes at the parts it had not finished.
    """
    cancel = cancel or CancelToken()
    share = share or current_share()
    sae = load_sae(sae_dir, share.device)
    started = time.perf_counter()
    target = sae_dir / CODES_FILE
    with StoreReader(store_path) as reader:
        layout = _layout(sae, reader, part_rows)
        attrs = {
            "store_fingerprint": reader.data_fingerprint,
            "layer": reader.layer,
            # where it ran ("cuda:3" under a launch) is not what the codes are of
            "sae_cfg": {k: v for k, v in sae.cfg.to_dict().items() if k != "device"},
        }
        if share.is_main:
            prepare_parts(target, layout, attrs, _identity(store_path, sae_dir))
        share.barrier()
        parts = CodesParts(target, layout)
        try:
            missing = parts.missing()
            share.barrier()  # every process listed the missing parts before any marks one
            done = layout.n_rows - sum(len(layout.rows(p)) for p in missing)
            progress("encoding", done, layout.n_rows)
            for part in share.mine(missing):
                for rows in _encode_part(sae, reader, parts, part, cancel):
                    done += rows
                    progress("encoding", done, layout.n_rows)
                parts.mark_done(part)
        finally:
            parts.close()
    reused = layout.parts - len(missing)
    if share.is_main:
        marks = [parts.done_mark(p) for p in range(layout.parts)]
        wait_for_files(marks, progress, cancel, "encoding", RESUME_HINT)
        finish_parts(target)
        progress("encoding", layout.n_rows, layout.n_rows)
    return EncodeResult(
        target,
        layout.n_rows,
        layout.k,
        layout.n_latents,
        time.perf_counter() - started,
        reused,
        share.count,
        share.is_main,
    )


def _layout(sae: Any, reader: StoreReader, part_rows: int) -> CodesLayout:
    if int(sae.cfg.d_in) != reader.d_model:
        raise StoreError(
            f"The SAE reads {sae.cfg.d_in}-wide activations, but the store's layer "
            f"{reader.layer} is {reader.d_model} wide.",
            "Use an SAE trained on this model's hidden size, or re-extract.",
        )
    k = codes_k(sae)
    if k > int(sae.cfg.d_sae):
        raise StoreError(f"k ({k}) is larger than the SAE's {sae.cfg.d_sae} latents.")
    if part_rows < 1:
        raise ConfigError(
            f"Rows per part must be at least 1, not {part_rows}.",
            f"Leave --part-rows out for the default ({PART_ROWS:,}).",
        )
    return CodesLayout(int(reader.values.shape[0]), k, int(sae.cfg.d_sae), part_rows)


def _identity(store_path: Path, sae_dir: Path) -> dict[str, list[int]]:
    """The files the codes come from, by size and modification time: a re-extracted store
    or a retrained SAE makes an unfinished run's parts stale."""
    files = {"store": store_path, "sae": sae_dir / SAE_WEIGHTS, "cfg": sae_dir / SAE_CFG}
    stats = {name: path.stat() for name, path in files.items()}
    return {name: [stat.st_size, stat.st_mtime_ns] for name, stat in stats.items()}


def _encode_part(
    sae: Any,
    reader: StoreReader,
    parts: CodesParts,
    part: int,
    cancel: CancelToken,
) -> Iterator[int]:
    """Encode one part's rows chunk by chunk, yielding how many each chunk wrote."""
    rows = parts.layout.rows(part)
    for start in range(rows.start, rows.stop, CHUNK_ROWS):
        cancel.check("encoding", RESUME_HINT)
        x = read_rows(reader.values, start, min(start + CHUNK_ROWS, rows.stop))  # raw, as stored
        if not np.isfinite(x).all():
            raise StoreError(
                "The store's activations contain NaN or inf.",
                "Run `safer store check`, then extract again.",
            )
        parts.write(start, *encode_rows(sae, x, parts.layout.k, reader.normalise))
        yield len(x)
