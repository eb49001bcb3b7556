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
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.activations.selection import is_delimiter, selected_flat
from safer_engine.activations.vocab import piece_text, vocab_pieces
from safer_engine.config import ExtractConfig
from safer_engine.errors import Cancelled
from safer_engine.models.batching import pad_batch
from safer_engine.models.blocks import BlockOutput, default_layer
from safer_engine.models.reward_model import (
    EncodedBatch,
    TextFormat,
    encode_examples,
    load_trained_model,
    load_trained_tokenizer,
)
from safer_engine.progress import CancelToken, Progress, no_progress
from safer_engine.store.writer import StoreTables, StoreTexts, save_shard, write_store
from safer_engine.workspace import Workspace

SHARDS_SUFFIX = ".shards"
SHARD_META = "meta.json"
SHARD_LAYOUT = 3
"""Bumped when the tokens of a text or a shard's contents change (2: prompts clipped from
the data's own text; 3: each shard holds its texts' tokens too), so a resumed extraction
never mixes shards of two layouts."""
WAIT_SECONDS = 0.2
"""How often the main process looks for the other processes' shards."""
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


@dataclass(frozen=True)
class ProcessShare:
    """This process's part of a multi-process extraction (one process: all of it)."""

    index: int = 0
    count: int = 1
    device: str | None = None
    barrier: Callable[[], None] = lambda: None

    @property
    def is_main(self) -> bool:
        return self.index == 0


def is_main_process() -> bool:
    """Whether this is the main process (rank 0) of a launch, or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def current_share() -> ProcessShare:
    """The share of a process started by `accelerate launch` or torchrun (WORLD_SIZE > 1):
    one GPU each, or the CPU (gloo) on a machine without GPUs."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessShare()
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return ProcessShare(
        state.process_index, state.num_processes, str(state.device), state.wait_for_everyone
    )


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


def _prepare_shards(folder: Path, meta: dict[str, Any]) -> None:
    """Keep finished shards only if they come from exactly this extraction."""
    meta_path = folder / SHARD_META
    if folder.exists() and (
        not meta_path.exists() or json.loads(meta_path.read_text(encoding="utf-8")) != meta
    ):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")


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


class _Background:
    """A thread that runs `work` over items and hands results over a bounded queue, so
    it stays at most `ahead` items in front of its consumer; errors reach the consumer."""

    _DONE = object()

    def __init__(self, work: Callable[[], Iterator[Any]], ahead: int, name: str) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], Iterator[Any]]) -> None:
        try:
            items = work()
            while True:
                started = time.perf_counter()
                item = next(items, self._DONE)
                self.seconds += time.perf_counter() - started
                if not self._put(item) or item is self._DONE:
                    return
        except BaseException as exc:  # handed to the consumer
            self._error = exc
            self._put(self._DONE)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                if self._error is not None:
                    raise self._error
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class _Writer:
    """Saves shards on a thread of its own while the model runs on the next one."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-writer")
        self._pending: list[Future[float]] = []

    def save(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        self._raise_failed()
        self._pending.append(self._pool.submit(self._save, path, arrays))

    @staticmethod
    def _save(path: Path, arrays: dict[str, np.ndarray]) -> float:
        started = time.perf_counter()
        save_shard(path, **arrays)
        return time.perf_counter() - started

    def _raise_failed(self) -> None:
        for future in [f for f in self._pending if f.done()]:
            future.result()

    def finish(self) -> float:
        """Wait for every save; the seconds they took."""
        try:
            return sum(f.result() for f in self._pending)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _shard_arrays(work: ShardWork, values: np.ndarray) -> dict[str, np.ndarray]:
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


def _forward_shard(
    work: ShardWork, run: BlockOutput, device: Any, d_model: int, cancel: CancelToken
) -> np.ndarray:
    """The kept rows' activations of one shard, float16, in the shard's row order."""
    import torch

    values = np.empty((work.rows.doc.shape[0], d_model), dtype=np.float16)
    with torch.inference_mode():
        for batch in work.batches:
            cancel.check("extraction (finished shards are kept; run it again to resume)")
            states = run(
                batch.inputs["input_ids"].to(device), batch.inputs["attention_mask"].to(device)
            )
            kept = states[batch.batch_row.to(device), batch.column.to(device)]
            values[batch.dest] = kept.to(torch.float32).to(torch.float16).cpu().numpy()
    return values


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
        _prepare_shards(folder, meta)
    share.barrier()
    numbers = range((len(keys) + config.shard_docs - 1) // config.shard_docs)
    missing = [n for n in numbers if not shard_path(folder, n).exists()]
    share.barrier()  # every process listed the missing shards before any writes one
    mine = missing[share.index :: share.count]
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
            cancel.check("tokenising")
            yield tokenise_shard(number, docs_of(number), keys, tokenizer, fmt, delimiter, config)

    loader = _Background(tokenised, ahead=2, name="shard-loader")
    writer = _Writer()
    forward = waiting = 0.0
    try:
        todo = set(mine)
        done = sum(len(docs_of(n)) for n in numbers if n not in todo)
        progress("extracting", done, len(keys))
        mark = time.perf_counter()
        for work in loader:
            waiting += time.perf_counter() - mark
            mark = time.perf_counter()
            values = _forward_shard(work, run, device, d_model, cancel)
            forward += time.perf_counter() - mark
            writer.save(shard_path(folder, work.number), _shard_arrays(work, values))
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
    _wait_for_shards(paths, progress, cancel)
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


def _wait_for_shards(paths: list[Path], progress: Progress, cancel: CancelToken) -> None:
    """Until the other processes have saved every shard (a process that dies takes the
    whole launch down with it, so this never waits for ever)."""
    while True:
        done = sum(p.exists() for p in paths)
        if done == len(paths):
            return
        progress("waiting for the other processes", done, len(paths))
        if cancel.cancelled:
            raise Cancelled("extraction (finished shards are kept; run it again to resume)")
        time.sleep(WAIT_SECONDS)


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
