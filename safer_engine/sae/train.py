"""`safer train-sae`: a TopK SAE trained by sae-lens's `SAETrainer` on store activations.

The trainer pulls batches from a data provider we write: shuffled rows of the memory-mapped
store, standardised per token when the store says so (the paper's normalisation). Progress
and cancel live in that provider, so sae-lens needs no changes. The result is saved in
sae-lens's own format (`cfg.json` + `sae_weights.safetensors`), plus `safer_sae.json`.

Runs are short (the demo: 99 steps), so the start and schedule matter more than the length:
the decoder bias starts at the data mean, decoder rows at `decoder_init_norm` (not sae-lens's
0.1), and a high learning rate decays to zero at the end. See `SAEConfig` for the figures.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.artifacts import SAE_INFO
from safer_engine.config import SAEConfig
from safer_engine.errors import StoreError
from safer_engine.files import atomic_dir
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.reader import StoreReader, normalise_rows

BLOCK_ROWS = 65_536


@dataclass(frozen=True)
class SAEMetrics:
    """Quality of an SAE on a sample of store rows."""

    variance_explained: float
    mean_l0: float
    dead_fraction: float
    eval_rows: int


@dataclass(frozen=True)
class SAETrainResult:
    path: Path
    n_latents: int
    k: int
    steps: int
    seconds: float
    metrics: SAEMetrics


def training_rows(reader: StoreReader, rows: str) -> np.ndarray:
    if rows == "selected":
        chosen = np.flatnonzero(np.asarray(reader.selected))
    else:
        chosen = np.arange(reader.values.shape[0])
    if chosen.size == 0:
        raise StoreError(
            "The store has no activation rows to train on.",
            "Extract with --policy all, or train with --rows all.",
        )
    return chosen


def batches(
    reader: StoreReader,
    rows: np.ndarray,
    batch_size: int,
    seed: int,
    total_steps: int,
    progress: Progress,
    cancel: CancelToken,
) -> Iterator[Any]:
    """Endless shuffled batches: blocks of rows in random order, rows shuffled within a
    block, so reads stay mostly sequential on large memory-mapped stores."""
    rng = np.random.default_rng(seed)
    counter = [0]
    while True:
        for start in rng.permutation(np.arange(0, rows.size, BLOCK_ROWS)):
            values = reader.activations(np.sort(rows[start : start + BLOCK_ROWS]))
            _require_finite(values)
            yield from _in_batches(
                values[rng.permutation(values.shape[0])],
                batch_size,
                "training SAE",
                counter,
                total_steps,
                progress,
                cancel,
            )


def _in_batches(
    values: np.ndarray,
    batch_size: int,
    task: str,
    counter: list[int],
    total_steps: int,
    progress: Progress,
    cancel: CancelToken,
) -> Iterator[Any]:
    """Whole batches of already shuffled rows as tensors; `counter` numbers the steps."""
    import torch

    for first in range(0, values.shape[0] - batch_size + 1, batch_size):
        cancel.check("SAE training")
        progress(task, counter[0], total_steps)
        counter[0] += 1
        yield torch.from_numpy(values[first : first + batch_size])


def _require_finite(values: np.ndarray) -> None:
    if not np.isfinite(values).all():
        raise StoreError(
            "The store's activations contain NaN or inf.",
            "Run `safer store check`, then extract again.",
        )


def sae_lens_config(
    d_in: int,
    n_latents: int,
    k: int,
    device: str,
    model: str,
    layer: int,
    decoder_init_norm: float = SAEConfig.decoder_init_norm,
) -> Any:
    from sae_lens.saes.sae import SAEMetadata
    from sae_lens.saes.topk_sae import TopKTrainingSAEConfig

    return TopKTrainingSAEConfig(
        d_in=d_in,
        d_sae=n_latents,
        k=k,
        dtype="float32",
        device=device,
        apply_b_dec_to_input=True,
        decoder_init_norm=decoder_init_norm,
        # The paper's per-token standardisation happens when reading the store.
        normalize_activations="none",
        metadata=SAEMetadata(
            model_name=model, hook_name=f"hidden_states.{layer}", hook_layer=layer
        ),
    )


def measure(
    sae: Any, reader: StoreReader, rows: np.ndarray, eval_rows: int, seed: int
) -> SAEMetrics:
    """Fraction of variance explained, mean L0 and dead-feature fraction on a row sample."""
    import torch

    sample = np.sort(
        np.random.default_rng(seed + 1).choice(rows, size=min(eval_rows, rows.size), replace=False)
    )
    x = torch.from_numpy(reader.activations(sample))
    fired = torch.zeros(sae.cfg.d_sae, dtype=torch.bool)
    error = total = l0 = 0.0
    with torch.inference_mode():
        for part in x.split(4096):
            codes = sae.encode(part.to(sae.device))
            recon = sae.decode(codes).cpu()
            error += float(((recon - part) ** 2).sum())
            total += float(((part - x.mean(0)) ** 2).sum())
            nonzero = codes.cpu() > 0
            l0 += float(nonzero.sum())
            fired |= nonzero.any(0)
    return SAEMetrics(
        variance_explained=1.0 - error / total if total else float("nan"),
        mean_l0=l0 / len(sample),
        dead_fraction=float((~fired).float().mean()),
        eval_rows=len(sample),
    )


def train_sae(
    store_path: Path,
    config: SAEConfig,
    out_dir: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    generic: Path | None = None,
) -> SAETrainResult:
    """Train (first on the raw generic-text activations saved at `generic`, when given),
    measure, and save atomically to `out_dir` in sae-lens format."""
    import torch
    from sae_lens.saes.topk_sae import TopKTrainingSAE

    cancel = cancel or CancelToken()
    torch.manual_seed(config.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with StoreReader(store_path) as reader:
        n_latents, k = config.resolved(reader.d_model)
        rows = training_rows(reader, config.rows)
        sae = TopKTrainingSAE(
            sae_lens_config(
                reader.d_model,
                n_latents,
                k,
                device,
                reader.model,
                reader.layer,
                config.decoder_init_norm,
            )
        )
        started = time.perf_counter()
        text = None
        if generic is not None:
            text = np.load(generic)
            text = normalise_rows(text) if reader.normalise else text.astype(np.float32)
        if config.b_dec_init == "mean":
            # the first stage's data: the generic text when there is a pretraining stage
            first = text if text is not None else _sample(reader, rows, config.seed)
            init_b_dec(sae, first)
        stage_steps = {}
        if text is not None:
            stage_steps["generic"] = _fit(
                sae,
                config,
                config.pretrain_epochs,
                text.shape[0],
                device,
                lambda b, s: memory_batches(text, b, config.seed, s, progress, cancel),
            )
        stage_steps["preference"] = _fit(
            sae,
            config,
            config.epochs,
            rows.size,
            device,
            lambda b, s: batches(reader, rows, b, config.seed, s, progress, cancel),
        )
        seconds = time.perf_counter() - started
        steps = sum(stage_steps.values())
        progress("measuring SAE", steps, steps)
        metrics = measure(sae, reader, rows, config.eval_rows, config.seed)
        info = {
            "config": config.to_dict(),
            "n_latents": n_latents,
            "k": k,
            "steps": stage_steps,
            "seconds": round(seconds, 1),
            "metrics": asdict(metrics),
            "store": {
                "layer": reader.layer,
                "model": reader.model,
                "data_fingerprint": reader.data_fingerprint,
                "normalise": reader.normalise,
            },
        }
    _save(sae, out_dir, info)
    return SAETrainResult(out_dir, n_latents, k, steps, seconds, metrics)


def _sample(reader: StoreReader, rows: np.ndarray, seed: int, size: int = 16_384) -> np.ndarray:
    """A random sample of training rows (sorted reads), e.g. to centre the decoder bias."""
    chosen = np.random.default_rng(seed + 2).choice(rows, size=min(size, rows.size), replace=False)
    values = reader.activations(np.sort(chosen))
    _require_finite(values)
    return values


def init_b_dec(sae: Any, values: np.ndarray) -> None:
    """Start the decoder bias at the mean of `values`: the input is centred before encoding
    from the first step, instead of the shared mean direction deciding which latents fire."""
    import torch

    mean = values.mean(axis=0, dtype=np.float64).astype(np.float32)
    with torch.no_grad():
        sae.b_dec.copy_(torch.from_numpy(mean).to(sae.b_dec.device))


def trainer_config(config: SAEConfig, epochs: float, n_rows: int, device: str) -> Any:
    """sae-lens's settings for one training stage of `epochs` passes over `n_rows` rows."""
    from sae_lens.config import LoggingConfig, SAETrainerConfig

    batch_size = min(config.batch_size, n_rows)
    steps = max(1, int(epochs * n_rows) // batch_size)
    return SAETrainerConfig(
        total_training_samples=steps * batch_size,
        train_batch_size_samples=batch_size,
        lr=config.learning_rate,
        # constant, then linear to zero over the last `lr_decay` of the steps
        lr_scheduler_name="constant",
        lr_decay_steps=int(config.lr_decay * steps),
        lr_end=config.learning_rate,
        device=device,
        logger=LoggingConfig(log_to_wandb=False),
        # sae-lens's windows (1000/2000 steps) suit runs of many thousand steps; on a
        # short run no feature would ever count as dead and the auxiliary loss that
        # revives dead features would never act.
        dead_feature_window=max(20, steps // 20),
        feature_sampling_window=max(40, steps // 10),
    )


def _fit(
    sae: Any, config: SAEConfig, epochs: float, n_rows: int, device: str, provider: Any
) -> int:
    """One sae-lens training run over `epochs` passes; returns its step count."""
    from sae_lens.training.sae_trainer import SAETrainer

    settings = trainer_config(config, epochs, n_rows, device)
    steps = int(settings.total_training_steps)
    with _without_sae_lens_bar():
        SAETrainer(settings, sae, provider(settings.train_batch_size_samples, steps)).fit()
    return steps


def memory_batches(
    values: np.ndarray,
    batch_size: int,
    seed: int,
    total_steps: int,
    progress: Progress,
    cancel: CancelToken,
) -> Iterator[Any]:
    """Endless shuffled batches of in-memory rows (generic-text activations)."""
    rng = np.random.default_rng(seed)
    counter = [0]
    while True:
        yield from _in_batches(
            values[rng.permutation(values.shape[0])],
            batch_size,
            "training SAE on generic text",
            counter,
            total_steps,
            progress,
            cancel,
        )


@contextmanager
def _without_sae_lens_bar() -> Iterator[None]:
    """sae-lens draws its own tqdm bar; ours comes from the data provider instead."""
    import sae_lens.training.sae_trainer as trainer_module

    original = trainer_module.tqdm
    trainer_module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        trainer_module.tqdm = original


def _save(sae: Any, out_dir: Path, info: dict[str, Any]) -> None:
    with atomic_dir(out_dir) as partial:
        sae.save_inference_model(str(partial))
        (partial / SAE_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
