"""Bradley–Terry reward-model training with transformers' `Trainer`.

`Trainer` brings checkpointing and resume, seeding, mixed precision, gradient
checkpointing and multi-process training under `accelerate launch`; we add the pairwise
loss, our tokenisation, progress and cancel, and an atomic final save.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from safer_engine.artifacts import CHECKPOINTS_DIR, MODEL_DIR, RM_INFO
from safer_engine.config import RMConfig
from safer_engine.errors import Cancelled, TrainingError
from safer_engine.files import atomic_dir
from safer_engine.launch import current_share, is_main_process
from safer_engine.models.registry import resolve_model
from safer_engine.models.reward_model import (
    choose_format,
    load_reward_model,
    load_tokenizer,
)
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.train.pairs import Batch, BatchCollator, encode_pairs, pack_batches

if TYPE_CHECKING:
    import torch

MIN_TRAIN_PAIRS = 8
RUN_INFO = "safer_train.json"
OOM_SIGNS = ("out of memory", "can't allocate memory")


@dataclass
class TrainResult:
    """What a training run did; `losses` are the logged training losses in order."""

    model_dir: Path
    steps: int
    seconds: float
    resumed_from: str | None
    is_main: bool = True
    losses: list[float] = field(default_factory=list)


def _as_dataset(batches: list[Batch]) -> Any:
    from torch.utils.data import Dataset

    class BatchDataset(Dataset[Batch]):
        def __len__(self) -> int:
            return len(batches)

        def __getitem__(self, index: int) -> Batch:
            return batches[index]

    return BatchDataset()


def bradley_terry_loss(rewards: torch.Tensor, pair_index: torch.Tensor) -> torch.Tensor:
    """Mean −log σ(r_chosen − r_rejected) over the pairs, given per-text rewards."""
    import torch.nn.functional as F

    return -F.logsigmoid(rewards[pair_index[:, 0]] - rewards[pair_index[:, 1]]).mean()


def _trainer_class() -> type:
    from transformers import Trainer

    class BradleyTerryTrainer(Trainer):
        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            pair_index = inputs.pop("pair_index")
            rewards = model(**inputs).logits.squeeze(-1).float()
            loss = bradley_terry_loss(rewards, pair_index)
            return (loss, {"rewards": rewards}) if return_outputs else loss

        def _save_rng_state(self, output_dir: str) -> None:
            # Every process writes its random state into the checkpoint, which the main
            # process creates when it saves the model: nothing makes the others wait for it,
            # and a faster process (CPU processes often are) found no folder to write into.
            os.makedirs(output_dir, exist_ok=True)
            super()._save_rng_state(output_dir)

    return BradleyTerryTrainer


def _callback(progress: Progress, cancel: CancelToken, losses: list[float]) -> Any:
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            progress("training", state.global_step, state.max_steps)
            if cancel.cancelled:
                control.should_training_stop = True

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    return Report()


def _use_gpu_features(config: RMConfig) -> tuple[bool, bool, bool]:
    """bf16, activation checkpointing and pinned memory: each on for GPUs only."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = config.precision == "bf16" or (
        config.precision == "auto" and cuda and torch.cuda.is_bf16_supported()
    )
    checkpointing = config.gradient_checkpointing == "on" or (
        config.gradient_checkpointing == "auto" and cuda
    )
    return bf16, checkpointing, cuda


def _check_resumable(checkpoints: Path, run_info: dict[str, Any], fresh: bool) -> None:
    """Refuse to resume checkpoints made from other data or settings, unless told fresh."""
    info_path = checkpoints / RUN_INFO
    if fresh and checkpoints.exists():
        shutil.rmtree(checkpoints)
    if not info_path.exists():
        return
    previous = json.loads(info_path.read_text(encoding="utf-8"))
    if previous.get("data_fingerprint") != run_info["data_fingerprint"]:
        raise TrainingError(
            f"The checkpoints in {checkpoints} were trained on other data "
            f"(fingerprint {str(previous.get('data_fingerprint'))[:12]}…, now "
            f"{run_info['data_fingerprint'][:12]}…).",
            "Pass --fresh to discard them and start over.",
        )
    if previous.get("config") != run_info["config"]:
        raise TrainingError(
            f"The checkpoints in {checkpoints} were made with other training settings.",
            "Use the same settings to resume, or pass --fresh to start over.",
        )


def train_reward_model(
    pairs_table: pl.DataFrame,
    data_fingerprint: str,
    config: RMConfig,
    out_dir: Path,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    fresh: bool = False,
) -> TrainResult:
    """Train on the table's `train` split; write `out_dir/model` (safetensors) atomically."""
    cancel = cancel or CancelToken()
    train = pairs_table.filter(pl.col("split") == "train")
    if train.height < MIN_TRAIN_PAIRS:
        raise TrainingError(
            f"Only {train.height} training pairs; at least {MIN_TRAIN_PAIRS} are needed.",
            "Import more data, or give more pairs the train split.",
        )
    source = resolve_model(config.model)
    tokenizer = load_tokenizer(source)
    fmt = choose_format(tokenizer, config.max_length, config.max_prompt_tokens)
    encoded = encode_pairs(train, tokenizer, fmt, progress, cancel)
    batches = pack_batches(encoded, config.batch_texts, config.seed)
    from transformers import set_seed

    set_seed(config.seed)  # the reward head is new, random weights: the same ones every run
    model = load_reward_model(source, tokenizer)

    checkpoints = out_dir / CHECKPOINTS_DIR
    run_info = {"data_fingerprint": data_fingerprint, "config": config.to_dict()}
    share = current_share()
    # under a launch, a process slowed down (tokenising on a busy machine) must not look
    # for checkpoints after a faster one has started writing or removing them
    share.barrier()
    _check_resumable(checkpoints, run_info, fresh)
    trainer, losses = _build_trainer(
        model,
        BatchCollator(encoded, tokenizer.pad_token_id),
        batches,
        config,
        checkpoints,
        progress,
        cancel,
    )
    last = last_complete_checkpoint(checkpoints)
    share.barrier()  # every process has chosen where to resume before any writes
    if trainer.is_world_process_zero() and is_main_process():
        checkpoints.mkdir(parents=True, exist_ok=True)
        (checkpoints / RUN_INFO).write_text(json.dumps(run_info, indent=2), encoding="utf-8")
    started = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=last)
    except RuntimeError as exc:  # CUDA's OutOfMemoryError is a RuntimeError too
        if any(sign in str(exc).lower() for sign in OOM_SIGNS):
            raise TrainingError(
                "Out of memory while training.",
                "Lower --batch-texts or --max-length (checkpoints so far are kept).",
            ) from exc
        raise
    # every process may still be writing its part of the last checkpoint (its random
    # state): the main process removes the checkpoints only once all have finished
    trainer.accelerator.wait_for_everyone()
    if cancel.cancelled:
        raise Cancelled("training", "Checkpoints are kept; run the same command to resume.")
    result = TrainResult(
        model_dir=out_dir / MODEL_DIR,
        steps=trainer.state.global_step,
        seconds=time.perf_counter() - started,
        resumed_from=Path(last).name if last else None,
        # the launch's rank as well as the trainer's: only one process may ever save the model
        # or remove the checkpoints, even if a trainer ran without its process group
        is_main=trainer.is_world_process_zero() and is_main_process(),
        losses=losses,
    )
    if result.is_main:
        _save_final(
            trainer.model,
            tokenizer,
            out_dir / MODEL_DIR,
            {
                **run_info,
                "format": fmt.to_dict(),
                "base_model": source.name,
                "steps": result.steps,
                "train_pairs": train.height,
            },
        )
        shutil.rmtree(checkpoints, ignore_errors=True)
    return result


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint that was written to the end: a process killed while saving
    leaves a `checkpoint-N` without its trainer state, which must not be resumed from."""
    if not checkpoints.is_dir():
        return None
    complete = [
        (int(folder.name.split("-")[1]), folder)
        for folder in checkpoints.glob("checkpoint-*")
        if folder.name.split("-")[1].isdigit() and (folder / "trainer_state.json").is_file()
    ]
    return str(max(complete)[1]) if complete else None


def _build_trainer(
    model: Any,
    collator: BatchCollator,
    batches: list[Batch],
    config: RMConfig,
    checkpoints: Path,
    progress: Progress,
    cancel: CancelToken,
) -> Any:
    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    bf16, checkpointing, pinned = _use_gpu_features(config)
    args = TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=1,  # one packed batch of texts
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of all steps
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        seed=config.seed,
        data_seed=config.seed,
        bf16=bf16,
        activation_checkpointing=checkpointing,
        dataloader_pin_memory=pinned,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        logging_steps=max(1, min(10, config.save_steps)),
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    losses: list[float] = []
    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=_as_dataset(batches),
        data_collator=collator,
        callbacks=[_callback(progress, cancel, losses)],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout
    return trainer, losses


def _save_final(model: Any, tokenizer: Any, target: Path, info: dict[str, Any]) -> None:
    """A complete model folder or none: a crash while saving leaves the old model."""
    with atomic_dir(target) as partial:
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        (partial / RM_INFO).write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
