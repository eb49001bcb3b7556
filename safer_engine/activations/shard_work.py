"""One shard of extraction's work: its texts tokenised in one batch, the rows it keeps, its
length-bucketed forward batches, and the forward pass that fills its rows.

`tokenise_shard` runs on extraction's loader thread, `forward_shard` on the main thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from safer_engine.activations.selection import selected_flat
from safer_engine.config import ExtractConfig
from safer_engine.models.batch_encoding import EncodedBatch, encode_examples
from safer_engine.models.batching import pad_batch
from safer_engine.models.blocks import BlockOutput
from safer_engine.models.reward_model import TextFormat
from safer_engine.progress import CancelToken

RESUME_HINT = "Finished shards are kept; run it again to resume."


@dataclass(frozen=True)
class Rows:
    """The activation rows a set of texts keeps: for each, its text (index within the set),
    its token position in that text, and whether the selection policy chose it; in text
    order, positions ascending."""

    doc: np.ndarray
    position: np.ndarray
    selected: np.ndarray


def kept_rows(encoded: EncodedBatch, delimiter: np.ndarray, config: ExtractConfig) -> Rows:
    """Which tokens of each text are stored, and which of them are selected."""
    resp_len = encoded.response[:, 1] - encoded.response[:, 0]
    doc = np.repeat(np.arange(len(encoded)), resp_len)
    position = np.arange(doc.shape[0], dtype=np.int64) - (np.cumsum(resp_len) - resp_len)[doc]
    position += encoded.response[doc, 0]
    token_ids = encoded.input_ids[encoded.starts[doc] + position]
    selected = selected_flat(config.policy, delimiter[token_ids], resp_len)
    if config.keep == "selected":
        return Rows(doc[selected], position[selected], selected[selected])
    return Rows(doc, position, selected)


def length_batches(lengths: np.ndarray, batch_tokens: int) -> list[list[int]]:
    """Group texts of similar length so padding stays small; longest first."""
    ordered = sorted(range(len(lengths)), key=lambda d: -int(lengths[d]))
    batches: list[list[int]] = []
    for doc in ordered:
        width = int(lengths[doc])
        if batches and width * (len(batches[-1]) + 1) <= batch_tokens:
            batches[-1].append(doc)
        else:
            batches.append([doc])
    return batches


@dataclass
class ForwardBatch:
    """One padded batch, and where its kept tokens go in the shard's rows."""

    inputs: dict[str, Any]
    batch_row: Any  # torch.long: the batch row of each kept token
    column: Any  # torch.long: its position in that row
    dest: np.ndarray  # its row in the shard


@dataclass
class ShardWork:
    """A shard tokenised and batched, ready for the model."""

    number: int
    docs: np.ndarray  # global document ids
    encoded: EncodedBatch
    rows: Rows
    batches: list[ForwardBatch]


def tokenise_shard(
    number: int,
    docs: np.ndarray,
    keys: list[tuple[str, str]],
    tokenizer: Any,
    fmt: TextFormat,
    delimiter: np.ndarray,
    config: ExtractConfig,
) -> ShardWork:
    """A shard's texts tokenised, their kept rows chosen, and their forward batches padded."""
    import torch

    encoded = encode_examples(tokenizer, fmt, [keys[int(d)] for d in docs])
    rows = kept_rows(encoded, delimiter, config)
    starts = encoded.starts
    first_row = np.searchsorted(rows.doc, np.arange(len(encoded) + 1))
    batches = []
    for batch in length_batches(encoded.lengths, config.batch_tokens):
        sequences = [
            encoded.input_ids[starts[d] : starts[d] + encoded.lengths[d]].tolist() for d in batch
        ]
        dest = np.concatenate(
            [np.arange(first_row[d], first_row[d + 1], dtype=np.int64) for d in batch]
        )
        batch_row = np.repeat(
            np.arange(len(batch)), [first_row[d + 1] - first_row[d] for d in batch]
        )
        batches.append(
            ForwardBatch(
                pad_batch(sequences, tokenizer.pad_token_id),
                torch.from_numpy(batch_row),
                torch.from_numpy(rows.position[dest]),
                dest,
            )
        )
    return ShardWork(number, docs, encoded, rows, batches)


def shard_arrays(work: ShardWork, values: np.ndarray) -> dict[str, np.ndarray]:
    """What a finished shard's file holds: its rows' activations and places, and its texts'
    tokens, so the store is assembled from the shards alone."""
    encoded, rows = work.encoded, work.rows
    return {
        "values": values,
        "doc": work.docs[rows.doc].astype(np.int64),
        "position": rows.position.astype(np.int64),
        "selected": rows.selected,
        "ids": encoded.input_ids,
        "lengths": encoded.lengths,
        "response": encoded.response,
        "chars": encoded.char_spans,
    }


def forward_shard(
    work: ShardWork, run: BlockOutput, device: Any, d_model: int, cancel: CancelToken
) -> np.ndarray:
    """The kept rows' activations of one shard, float16, in the shard's row order."""
    import torch

    values = np.empty((work.rows.doc.shape[0], d_model), dtype=np.float16)
    with torch.inference_mode():
        for batch in work.batches:
            cancel.check("extraction", RESUME_HINT)
            states = run(
                batch.inputs["input_ids"].to(device), batch.inputs["attention_mask"].to(device)
            )
            kept = states[batch.batch_row.to(device), batch.column.to(device)]
            values[batch.dest] = kept.to(torch.float32).to(torch.float16).cpu().numpy()
    return values
