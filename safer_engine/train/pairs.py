"""Preference pairs as distinct token sequences plus (chosen, rejected) index pairs.

Pairs share responses heavily (the demo has ~1.7k pairs over ~1k texts), so every distinct
(prompt, response) text is encoded and run once per batch, and the Bradley–Terry loss is
taken over all pairs whose two texts are in the batch. Batches are packed from whole prompt
groups, so no pair is split across batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from safer_engine.models.batching import pad_batch
from safer_engine.models.reward_model import TextFormat, encode_example
from safer_engine.progress import CancelToken, Progress

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class EncodedPairs:
    """`texts[i]` are token ids; `pairs[k]` = (chosen text index, rejected text index)."""

    texts: list[list[int]]
    pairs: np.ndarray
    pair_prompt: np.ndarray  # group (prompt) index of each pair


@dataclass(frozen=True)
class Batch:
    """Texts to run together, and the batch's pairs as indices into them."""

    texts: list[int]
    pairs: np.ndarray


def encode_pairs(
    table: pl.DataFrame,
    tokenizer: PreTrainedTokenizerBase,
    fmt: TextFormat,
    progress: Progress,
    cancel: CancelToken,
) -> EncodedPairs:
    index: dict[tuple[str, str], int] = {}
    prompt_index: dict[str, int] = {}
    texts: list[list[int]] = []
    pairs = np.zeros((table.height, 2), dtype=np.int64)
    pair_prompt = np.zeros(table.height, dtype=np.int64)
    rows = table.select("prompt", "chosen", "rejected").iter_rows()
    for row, (prompt, chosen, rejected) in enumerate(rows):
        if row % 64 == 0:
            cancel.check("tokenising")
            progress("tokenising", row, table.height)
        for side, response in enumerate((chosen, rejected)):
            key = (prompt, response)
            if key not in index:
                index[key] = len(texts)
                texts.append(encode_example(tokenizer, fmt, prompt, response).input_ids)
            pairs[row, side] = index[key]
        pair_prompt[row] = prompt_index.setdefault(prompt, len(prompt_index))
    progress("tokenising", table.height, table.height)
    return EncodedPairs(texts, pairs, pair_prompt)


def pack_batches(encoded: EncodedPairs, max_texts: int, seed: int) -> list[Batch]:
    """Pack shuffled prompt groups into batches of at most `max_texts` distinct texts
    (a larger group gets a batch of its own)."""
    groups: dict[int, list[int]] = {}
    for k, group in enumerate(encoded.pair_prompt.tolist()):
        groups.setdefault(group, []).append(k)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    batches: list[Batch] = []
    current: list[int] = []
    current_texts: set[int] = set()
    for group in order:
        members = groups[group]
        texts = set(encoded.pairs[members].ravel().tolist())
        if current and len(current_texts | texts) > max_texts:
            batches.append(_batch(encoded, current))
            current, current_texts = [], set()
        current += members
        current_texts |= texts
    if current:
        batches.append(_batch(encoded, current))
    return batches


def _batch(encoded: EncodedPairs, pair_rows: list[int]) -> Batch:
    chosen_rejected = encoded.pairs[pair_rows]
    texts = sorted(set(chosen_rejected.ravel().tolist()))
    local = {text: i for i, text in enumerate(texts)}
    return Batch(texts, np.vectorize(local.__getitem__)(chosen_rejected).astype(np.int64))


class BatchCollator:
    """Turn one packed `Batch` into model inputs plus `pair_index` [pairs, 2]."""

    def __init__(self, encoded: EncodedPairs, pad_id: int) -> None:
        self.encoded = encoded
        self.pad_id = pad_id

    def __call__(self, items: list[Batch]) -> dict[str, Any]:
        import torch

        (batch,) = items  # the Trainer's batch size is one packed batch
        inputs = pad_batch([self.encoded.texts[t] for t in batch.texts], self.pad_id)
        inputs["pair_index"] = torch.from_numpy(batch.pairs)
        return inputs
