"""`safer extract`: residual-stream activations of the workspace's reward model into a store.

Each distinct (prompt, response) text is run once. Work is cut into shards of texts; each
finished shard is saved atomically, so a run stopped by Ctrl-C or kill -9 resumes at the
first missing shard, and the store assembled from shards is the same as an uninterrupted
run's.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.activations.selection import select
from safer_engine.activations.vocab import vocab_pieces
from safer_engine.config import ExtractConfig
from safer_engine.models.batching import pad_batch
from safer_engine.models.blocks import BlockOutput, default_layer
from safer_engine.models.reward_model import encode_example, load_trained_rm
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.writer import StoreTables, StoreTexts, save_shard, write_store
from safer_engine.workspace import Workspace

SHARDS_SUFFIX = ".shards"
SHARD_META = "meta.json"
SHARD_LAYOUT = 2
"""Bumped when the tokens of a text change (2: prompts clipped from the data's own text), so
a resumed extraction never mixes shards of two tokenisations."""


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


@dataclass(frozen=True)
class Documents:
    """Distinct texts as token ids, with their response spans, kept/selected positions and
    each token's character span in the raw prompt or response (`Encoded.char_spans`)."""

    ids: list[list[int]]
    response: list[tuple[int, int]]
    kept: list[np.ndarray]
    selected: list[np.ndarray]
    char_spans: list[np.ndarray]


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


def _encode_docs(
    keys: list[tuple[str, str]],
    tokenizer: Any,
    fmt: Any,
    pieces: list[str],
    config: ExtractConfig,
    progress: Progress,
    cancel: CancelToken,
) -> Documents:
    ids, spans, kept, selected, chars = [], [], [], [], []
    for number, (prompt, response) in enumerate(keys):
        if number % 64 == 0:
            cancel.check("tokenising")
            progress("tokenising", number, len(keys))
        encoded = encode_example(tokenizer, fmt, prompt, response)
        start, end = encoded.response_start, encoded.response_end
        response_pieces = [pieces[t] for t in encoded.input_ids[start:end]]
        chosen = np.asarray(select(config.policy, response_pieces), dtype=np.int64) + start
        ids.append(encoded.input_ids)
        spans.append((start, end))
        selected.append(chosen)
        kept.append(np.arange(start, end, dtype=np.int64) if config.keep == "response" else chosen)
        chars.append(np.array(encoded.char_spans, dtype=np.int32).reshape(-1, 2))
    progress("tokenising", len(keys), len(keys))
    return Documents(ids, spans, kept, selected, chars)


def _texts(keys: list[tuple[str, str]], docs: Documents) -> StoreTexts:
    """Each distinct prompt and response once, each document's two of them, and every
    token's character span in its own text."""
    index: dict[str, int] = {}
    prompt = np.array([index.setdefault(p, len(index)) for p, _ in keys], dtype=np.int64)
    response = np.array([index.setdefault(r, len(index)) for _, r in keys], dtype=np.int64)
    spans = np.concatenate(docs.char_spans) if docs.char_spans else np.zeros((0, 2), dtype=np.int32)
    return StoreTexts(
        texts=list(index),
        prompt_text=prompt,
        response_text=response,
        char_start=spans[:, 0],
        char_end=spans[:, 1],
    )


def _tables(
    table: pl.DataFrame,
    keys: list[tuple[str, str]],
    docs: Documents,
    chosen: np.ndarray,
    rejected: np.ndarray,
    pieces: list[str],
) -> StoreTables:
    lengths = np.array([len(i) for i in docs.ids], dtype=np.int64)
    tok_end = np.cumsum(lengths)
    tok_start = tok_end - lengths
    spans = np.array(docs.response, dtype=np.int64).reshape(-1, 2)
    slice_codes, slice_names = _codes(table["slice"])
    split_codes, split_names = _codes(table["split"])
    return StoreTables(
        tok_start=tok_start,
        tok_end=tok_end,
        resp_start=tok_start + spans[:, 0],
        resp_end=tok_start + spans[:, 1],
        pair_id=np.array(table["pair_id"].to_list(), dtype="S16"),
        chosen_doc=chosen,
        rejected_doc=rejected,
        slice_codes=slice_codes,
        slice_names=slice_names,
        split_codes=split_codes,
        split_names=split_names,
        token_ids=np.concatenate([np.asarray(i, dtype=np.int32) for i in docs.ids])
        if docs.ids
        else np.zeros(0, dtype=np.int32),
        pieces=pieces,
        texts=_texts(keys, docs),
    )


def _batches(doc_ids: list[int], docs: Documents, batch_tokens: int) -> list[list[int]]:
    """Group texts of similar length so padding stays small; longest first."""
    ordered = sorted(doc_ids, key=lambda d: -len(docs.ids[d]))
    batches: list[list[int]] = []
    for doc in ordered:
        width = len(docs.ids[doc])
        if batches and width * (len(batches[-1]) + 1) <= batch_tokens:
            batches[-1].append(doc)
        else:
            batches.append([doc])
    return batches


def _run_shard(
    doc_ids: list[int],
    docs: Documents,
    tok_start: np.ndarray,
    run: BlockOutput,
    device: Any,
    dtype: Any,
    config: ExtractConfig,
    pad_id: int,
    cancel: CancelToken,
) -> dict[str, np.ndarray]:
    import torch

    outputs: dict[int, np.ndarray] = {}
    with torch.inference_mode():
        for batch in _batches(doc_ids, docs, config.batch_tokens):
            cancel.check("extraction (finished shards are kept; run it again to resume)")
            inputs = pad_batch([docs.ids[d] for d in batch], pad_id)
            states = run(inputs["input_ids"].to(device), inputs["attention_mask"].to(device))
            hidden = states.to(torch.float32).cpu().numpy()
            for row, doc in enumerate(batch):
                outputs[doc] = hidden[row, docs.kept[doc]].astype(np.float16)
    ordered = sorted(doc_ids)
    return {
        "values": np.concatenate([outputs[d] for d in ordered]),
        "token_row": np.concatenate([tok_start[d] + docs.kept[d] for d in ordered]),
        "doc": np.concatenate([np.full(len(docs.kept[d]), d, dtype=np.int64) for d in ordered]),
        "selected": np.concatenate([np.isin(docs.kept[d], docs.selected[d]) for d in ordered]),
    }


def _prepare_shards(folder: Path, meta: dict[str, Any]) -> None:
    """Keep finished shards only if they come from exactly this extraction."""
    meta_path = folder / SHARD_META
    if folder.exists() and (
        not meta_path.exists() or json.loads(meta_path.read_text(encoding="utf-8")) != meta
    ):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")


def _device_and_dtype(model: Any, config: ExtractConfig) -> tuple[Any, Any]:
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    bf16 = config.precision == "bf16" or (config.precision == "auto" and cuda)
    return device, torch.bfloat16 if bf16 else torch.float32


def extract_store(
    workspace: Workspace,
    config: ExtractConfig,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ExtractResult:
    cancel = cancel or CancelToken()
    table, fingerprint = workspace.pairs()
    table = table.sort("pair_id")
    model, tokenizer, fmt, info = load_trained_rm(workspace.rm_model_dir)
    layer = config.layer or default_layer(model)
    run = BlockOutput(model, layer)
    device, dtype = _device_and_dtype(model, config)
    model.to(device=device, dtype=dtype).eval()

    keys, chosen, rejected = _doc_index(table)
    pieces = vocab_pieces(tokenizer)
    docs = _encode_docs(keys, tokenizer, fmt, pieces, config, progress, cancel)
    tables = _tables(table, keys, docs, chosen, rejected, pieces)

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
    _prepare_shards(folder, meta)
    shard_paths, reused = [], 0
    started = time.perf_counter()
    for number, first in enumerate(range(0, len(keys), config.shard_docs)):
        path = folder / f"shard-{number:05d}.npz"
        shard_paths.append(path)
        progress("extracting", first, len(keys))
        if path.exists():
            reused += 1
            continue
        doc_ids = list(range(first, min(first + config.shard_docs, len(keys))))
        arrays = _run_shard(
            doc_ids,
            docs,
            tables.tok_start,
            run,
            device,
            dtype,
            config,
            tokenizer.pad_token_id,
            cancel,
        )
        save_shard(path, **arrays)
    progress("writing store", len(keys), len(keys))
    d_model = int(model.config.hidden_size)
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
    write_store(workspace.store_path, tables, shard_paths, layer, d_model, attrs)
    shutil.rmtree(folder)
    rows = sum(len(k) for k in docs.kept)
    return ExtractResult(
        path=workspace.store_path,
        layer=layer,
        docs=len(keys),
        tokens=int(tables.token_ids.shape[0]),
        rows=rows,
        selected=sum(len(s) for s in docs.selected),
        seconds=time.perf_counter() - started,
        shards_reused=reused,
    )
