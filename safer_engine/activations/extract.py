"""`safer extract`: residual-stream activations of the workspace's reward model into a store.

Each distinct (prompt, response) text is run once. Work is cut into shards of texts; each
finished shard (its tokens and its activations) is saved atomically, so a run stopped by
Ctrl-C or kill -9 resumes at the missing shards, and the store assembled from shards is the
same as an uninterrupted run's.

Three things run at once: a loader thread tokenises the next shard in batches and pads its
forward batches, the main thread runs the model, and a writer thread saves finished shards.
Under `accelerate launch` (or torchrun) each process extracts its share of the missing
shards; the main process assembles the store once every shard exists, and the others exit.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.activations.selection import is_delimiter
from safer_engine.activations.shard_work import (
    RESUME_HINT,
    ShardWork,
    forward_shard,
    shard_arrays,
    tokenise_shard,
)
from safer_engine.activations.threads import Background, ShardWriter
from safer_engine.activations.vocab import piece_text, vocab_pieces
from safer_engine.config import ExtractConfig
from safer_engine.files import prepare_shards
from safer_engine.launch import ProcessShare, current_share, wait_for_files
from safer_engine.models.blocks import BlockOutput, default_layer
from safer_engine.models.reward_model import load_trained_model, load_trained_tokenizer
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.writer import StoreTables, StoreTexts, write_store
from safer_engine.workspace import Workspace

SHARDS_SUFFIX = ".shards"
SHARD_LAYOUT = 3
"""Bumped when the tokens of a text or a shard's contents change (2: prompts clipped from
the data's own text; 3: each shard holds its texts' tokens too), so a resumed extraction
never mixes shards of two layouts."""
TOKEN_FIELDS = ("ids", "lengths", "response", "chars")
"""A shard's token arrays: its texts' token ids, lengths, response spans, character spans."""


@dataclass(frozen=True)
class ExtractResult:
    path: Path
    layer: int
    docs: int
    tokens: int
    rows: int
    selected: int
    seconds: float
    shards_reused: int
    damage: tuple[str, ...] = ()
    """What was wrong with the damaged store this extraction replaced, if it replaced one."""
    is_main: bool = True
    """False in the other processes of a multi-process run: the main one wrote the store."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each part (threads overlap, so they add up to more than the total)."""
    processes: int = 1
    """How many processes shared the extraction."""


def _codes(column: pl.Series) -> tuple[np.ndarray, list[str]]:
    names = sorted(column.unique().to_list())
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[v] for v in column.to_list()], dtype=np.int16), names


def _doc_index(table: pl.DataFrame) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """Distinct (prompt, response) texts in first-appearance order of the pairs."""
    index: dict[tuple[str, str], int] = {}
    sides = np.zeros((table.height, 2), dtype=np.int64)
    for row, (prompt, chosen, rejected) in enumerate(
        table.select("prompt", "chosen", "rejected").iter_rows()
    ):
        for side, response in enumerate((chosen, rejected)):
            sides[row, side] = index.setdefault((prompt, response), len(index))
    return list(index), sides[:, 0], sides[:, 1]


def _dtype(config: ExtractConfig, device: Any) -> Any:
    """bf16 on a GPU that has it (auto), or as asked; fp32 otherwise."""
    import torch

    cuda = device.type == "cuda"
    bf16 = config.precision == "bf16" or (
        config.precision == "auto" and cuda and torch.cuda.is_bf16_supported()
    )
    return torch.bfloat16 if bf16 else torch.float32


def shard_path(folder: Path, number: int) -> Path:
    return folder / f"shard-{number:05d}.npz"


def extract_store(
    workspace: Workspace,
    config: ExtractConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
    share: ProcessShare | None = None,
) -> ExtractResult:
    cancel = cancel or CancelToken()
    share = share or current_share()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    table, fingerprint = workspace.pairs()
    table = table.sort("pair_id")
    keys, chosen, rejected = _doc_index(table)
    tokenizer, fmt, info = load_trained_tokenizer(workspace.rm_model_dir)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vocab")
    pieces_future = pool.submit(vocab_pieces, tokenizer)  # while the model loads
    pool.shutdown(wait=False)
    mark = time.perf_counter()
    model = load_trained_model(workspace.rm_model_dir, share.device or "cpu")
    import torch

    device = torch.device(share.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    layer = config.layer or default_layer(model)
    run = BlockOutput(model, layer)
    model.to(device=device, dtype=_dtype(config, device)).eval()
    d_model = int(model.config.hidden_size)
    timings["load model"] = time.perf_counter() - mark

    folder = workspace.store_path.with_name(workspace.store_path.name + SHARDS_SUFFIX)
    meta = {
        "layout": SHARD_LAYOUT,
        "config": config.to_dict(),
        "data_fingerprint": fingerprint,
        "layer": layer,
        "rm": info.get("data_fingerprint"),
        "rm_steps": info.get("steps"),
        "docs": len(keys),
    }
    if share.is_main:
        prepare_shards(folder, meta)
    share.barrier()
    numbers = range((len(keys) + config.shard_docs - 1) // config.shard_docs)
    missing = [n for n in numbers if not shard_path(folder, n).exists()]
    share.barrier()  # every process listed the missing shards before any writes one
    mine = share.mine(missing)
    reused = len(numbers) - len(missing)

    def docs_of(number: int) -> np.ndarray:
        first = number * config.shard_docs
        return np.arange(first, min(first + config.shard_docs, len(keys)), dtype=np.int64)

    def tokenised() -> Iterator[ShardWork]:
        mark = time.perf_counter()
        pieces = pieces_future.result()
        delimiter = np.array([is_delimiter(piece_text(p)) for p in pieces], dtype=bool)
        timings["vocabulary"] = time.perf_counter() - mark
        for number in mine:
            cancel.check("extraction", RESUME_HINT)
            yield tokenise_shard(number, docs_of(number), keys, tokenizer, fmt, delimiter, config)

    loader = Background(tokenised, ahead=2, name="shard-loader")
    writer = ShardWriter()
    forward = waiting = 0.0
    try:
        todo = set(mine)
        done = sum(len(docs_of(n)) for n in numbers if n not in todo)
        progress("extracting", done, len(keys))
        mark = time.perf_counter()
        for work in loader:
            waiting += time.perf_counter() - mark
            mark = time.perf_counter()
            values = forward_shard(work, run, device, d_model, cancel)
            forward += time.perf_counter() - mark
            writer.save(shard_path(folder, work.number), shard_arrays(work, values))
            done += len(work.docs)
            progress("extracting", done, len(keys))
            mark = time.perf_counter()
    finally:
        loader.close()
        timings["write shards"] = writer.finish()
    timings.update({"tokenise": loader.seconds, "forward": forward, "wait for tokens": waiting})
    if not share.is_main:
        seconds = time.perf_counter() - started
        return ExtractResult(
            workspace.store_path,
            layer,
            len(keys),
            0,
            0,
            0,
            seconds,
            reused,
            (),
            False,
            timings,
            share.count,
        )
    paths = [shard_path(folder, n) for n in numbers]
    wait_for_files(paths, progress, cancel, "extraction", RESUME_HINT)
    mark = time.perf_counter()
    tables = _tables(table, keys, chosen, rejected, pieces_future.result(), paths)
    attrs = {
        "config": config.to_dict(),
        "data_fingerprint": fingerprint,
        "layer": layer,
        "d_model": d_model,
        "normalise": config.normalise,
        "policy": config.policy,
        "model": str(info.get("base_model", "")),
        "rm_info": json.dumps(info),
    }
    progress("writing store", len(keys), len(keys))
    rows, selected = write_store(workspace.store_path, tables, paths, layer, d_model, attrs)
    shutil.rmtree(folder)
    timings["write store"] = time.perf_counter() - mark
    return ExtractResult(
        path=workspace.store_path,
        layer=layer,
        docs=len(keys),
        tokens=int(tables.token_ids.shape[0]),
        rows=rows,
        selected=selected,
        seconds=time.perf_counter() - started,
        shards_reused=reused,
        timings=timings,
        processes=share.count,
    )


def _tables(
    table: pl.DataFrame,
    keys: list[tuple[str, str]],
    chosen: np.ndarray,
    rejected: np.ndarray,
    pieces: list[bytes],
    shards: list[Path],
) -> StoreTables:
    """Everything but the activations, from the pairs and the shards' tokens."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in TOKEN_FIELDS}
    for path in shards:
        with np.load(path) as shard:
            for name in TOKEN_FIELDS:
                parts[name].append(shard[name])
    ids, lengths, response, chars = (
        np.concatenate(parts[name]) if parts[name] else np.zeros(0) for name in TOKEN_FIELDS
    )
    lengths = lengths.astype(np.int64)
    tok_end = np.cumsum(lengths)
    tok_start = tok_end - lengths
    response = response.astype(np.int64).reshape(-1, 2)
    chars = chars.astype(np.int32).reshape(-1, 2)
    slice_codes, slice_names = _codes(table["slice"])
    split_codes, split_names = _codes(table["split"])
    index: dict[str, int] = {}
    prompt = np.array([index.setdefault(p, len(index)) for p, _ in keys], dtype=np.int64)
    answer = np.array([index.setdefault(r, len(index)) for _, r in keys], dtype=np.int64)
    return StoreTables(
        tok_start=tok_start,
        tok_end=tok_end,
        resp_start=tok_start + response[:, 0],
        resp_end=tok_start + response[:, 1],
        pair_id=np.array(table["pair_id"].to_list(), dtype="S16"),
        chosen_doc=chosen,
        rejected_doc=rejected,
        slice_codes=slice_codes,
        slice_names=slice_names,
        split_codes=split_codes,
        split_names=split_names,
        token_ids=ids.astype(np.int32),
        pieces=pieces,
        texts=StoreTexts(list(index), prompt, answer, chars[:, 0], chars[:, 1]),
    )
