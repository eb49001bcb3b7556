"""`safer encode`: top-k SAE codes for every stored activation row, into `sae/<id>/codes.h5`.

Any SAE that `sae_lens.SAE.load_from_disk` reads works: ours, or one trained elsewhere with
sae-lens. Codes go to their own file next to the SAE, written aside and renamed, so
`store.h5` is never rewritten in place and a crash cannot damage it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.analysis.code_chunks import read_rows
from safer_engine.artifacts import CODES_FILE, SAE_CFG
from safer_engine.codes.writer import Codes, write_codes
from safer_engine.errors import ModelError, StoreError
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.reader import EPS, StoreReader

CHUNK_ROWS = 8192
DEFAULT_K = 64


@dataclass(frozen=True)
class EncodeResult:
    path: Path
    rows: int
    k: int
    n_latents: int
    seconds: float


def load_sae(sae_dir: Path) -> Any:
    """An SAE in sae-lens format, on the GPU when there is one."""
    import torch
    from sae_lens import SAE

    if not (sae_dir / SAE_CFG).exists():
        raise ModelError(
            f"{sae_dir} holds no sae-lens SAE (no cfg.json).",
            "Train one with `safer train-sae`, or point --sae to a sae-lens folder.",
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
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
) -> EncodeResult:
    """Encode every stored activation row with the SAE in `sae_dir` into its `codes.h5`."""
    cancel = cancel or CancelToken()
    sae = load_sae(sae_dir)
    started = time.perf_counter()
    with StoreReader(store_path) as reader:
        if int(sae.cfg.d_in) != reader.d_model:
            raise StoreError(
                f"The SAE reads {sae.cfg.d_in}-wide activations, but the store's layer "
                f"{reader.layer} is {reader.d_model} wide.",
                "Use an SAE trained on this model's hidden size, or re-extract.",
            )
        n_rows, k = int(reader.values.shape[0]), codes_k(sae)
        if k > int(sae.cfg.d_sae):
            raise StoreError(f"k ({k}) is larger than the SAE's {sae.cfg.d_sae} latents.")
        attrs = {
            "store_fingerprint": reader.data_fingerprint,
            "layer": reader.layer,
            "sae_cfg": sae.cfg.to_dict(),
        }
        codes = _encoded(sae, reader, k, progress, cancel)
        write_codes(sae_dir / CODES_FILE, n_rows, int(sae.cfg.d_sae), k, attrs, codes)
    progress("encoding", n_rows, n_rows)
    return EncodeResult(
        sae_dir / CODES_FILE, n_rows, k, int(sae.cfg.d_sae), time.perf_counter() - started
    )


def _encoded(
    sae: Any, reader: StoreReader, k: int, progress: Progress, cancel: CancelToken
) -> Codes:
    n_rows = int(reader.values.shape[0])
    for start in range(0, n_rows, CHUNK_ROWS):
        cancel.check("encoding")
        progress("encoding", start, n_rows)
        x = read_rows(reader.values, start, start + CHUNK_ROWS)  # raw, as stored
        if not np.isfinite(x).all():
            raise StoreError(
                "The store's activations contain NaN or inf.",
                "Run `safer store check`, then extract again.",
            )
        yield (slice(start, start + len(x)), *encode_rows(sae, x, k, reader.normalise))
