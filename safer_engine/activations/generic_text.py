"""Activations of generic text, for the paper's first SAE stage (generic text, then the
preference data). Any local UTF-8 text file works; paragraphs are cut into windows of the
reward model's sequence length and run through the same blocks as `safer extract`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safer_engine.errors import DataError
from safer_engine.models.batching import pad_batch
from safer_engine.models.blocks import BlockOutput
from safer_engine.models.reward_model import load_trained_rm
from safer_engine.progress import CancelToken, Progress

BATCH = 16


def read_paragraphs(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"{path}: no such text file.", "Give a local UTF-8 text file.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not valid UTF-8 (byte offset {exc.start}).", "Re-encode the file as UTF-8."
        ) from exc
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        raise DataError(f"{path}: the file holds no text.", "Give a file with some prose.")
    return paragraphs


def text_activations(
    model_dir: Path,
    path: Path,
    layer: int,
    max_tokens: int,
    progress: Progress,
    cancel: CancelToken,
) -> np.ndarray:
    """Up to `max_tokens` raw activation rows (float32) of the text's tokens at `layer`."""
    import torch

    model, tokenizer, fmt, _ = load_trained_rm(model_dir)
    run = BlockOutput(model.eval(), layer)
    device = next(model.parameters()).device
    windows: list[list[int]] = []
    for paragraph in read_paragraphs(path):
        ids = tokenizer(paragraph, add_special_tokens=False)["input_ids"]
        windows += [ids[i : i + fmt.max_length] for i in range(0, len(ids), fmt.max_length)]
    rows: list[np.ndarray] = []
    kept = 0
    with torch.inference_mode():
        for start in range(0, len(windows), BATCH):
            if kept >= max_tokens:
                break
            cancel.check("reading generic text")
            progress("generic text activations", kept, max_tokens)
            inputs = pad_batch(windows[start : start + BATCH], tokenizer.pad_token_id)
            hidden = run(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))
            mask = inputs["attention_mask"].bool()
            rows.append(hidden.float().cpu()[mask].numpy())
            kept += int(mask.sum())
    return np.concatenate(rows)[:max_tokens]
