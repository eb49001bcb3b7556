"""Extraction throughput: `safer extract` end to end, and its forward pass, against a bare
forward of the same first L blocks on the same batches (docs/ARCHITECTURE.md: ≥ 80% on a GPU;
issue 15: end to end ≥ 80% of the bare forward on a CPU too).

    .venv/bin/python benchmarks/extract.py [--workspace DIR] [--repeats 3]

The workspace needs a trained reward model (`safer demo` builds one). Each repeat runs, in
turn, `extract_store` end to end into a fresh copy of the workspace (model load, tokenising,
forward, shards, HDF5 store), the bare forward and the extraction forward; the best of each
is reported, and the ratios of figures taken in the same repeats. Python's imports (torch,
transformers) are done before timing: they are the cost of starting a process, not of
extracting. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from safer_engine.activations.extract import _doc_index, extract_store
from safer_engine.activations.selection import is_delimiter
from safer_engine.activations.shard_work import forward_shard, tokenise_shard
from safer_engine.activations.vocab import piece_text, vocab_pieces
from safer_engine.config import ExtractConfig
from safer_engine.models.blocks import BlockOutput, default_layer, find_blocks
from safer_engine.models.reward_model import load_trained_rm
from safer_engine.progress import CancelToken
from safer_engine.workspace import Workspace, default_workspace


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def truncated(model: torch.nn.Module, layer: int) -> torch.nn.Module:
    """The same model with only its first `layer` blocks: the bare reference."""
    bare = copy.deepcopy(model.base_model)
    blocks = find_blocks(bare)
    del blocks[layer:]
    return bare


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=default_workspace())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int, default=ExtractConfig.batch_tokens)
    args = parser.parse_args()
    source = Workspace.open(args.workspace)
    config = ExtractConfig(batch_tokens=args.batch_tokens)

    model, tokenizer, fmt, _ = load_trained_rm(source.rm_model_dir)  # imports done here
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    model.to(device=device, dtype=dtype).eval()
    layer = config.layer or default_layer(model)
    table, _ = source.pairs()
    keys, _, _ = _doc_index(table.sort("pair_id"))
    delimiter = np.array([is_delimiter(piece_text(p)) for p in vocab_pieces(tokenizer)])
    shards = [
        tokenise_shard(
            n,
            np.arange(first, min(first + config.shard_docs, len(keys))),
            keys,
            tokenizer,
            fmt,
            delimiter,
            config,
        )
        for n, first in enumerate(range(0, len(keys), config.shard_docs))
    ]
    tokens = sum(int(b.inputs["attention_mask"].sum()) for s in shards for b in s.batches)
    n_batches = sum(len(s.batches) for s in shards)
    hook = BlockOutput(model, layer)
    bare = truncated(model, layer).to(device=device, dtype=dtype)
    d_model = int(model.config.hidden_size)
    cancel = CancelToken()

    def bare_forward() -> None:
        with torch.inference_mode():
            for shard in shards:
                for batch in shard.batches:
                    bare(**{k: v.to(device) for k, v in batch.inputs.items()})

    def extraction_forward() -> None:
        for shard in shards:
            forward_shard(shard, hook, device, d_model, cancel)

    def timed(run) -> float:  # type: ignore[no-untyped-def]
        sync()
        started = time.perf_counter()
        run()
        sync()
        return time.perf_counter() - started

    timed(lambda: forward_shard(shards[0], hook, device, d_model, cancel))  # warm-up
    runs: list[dict[str, float]] = []
    print(f"load average before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            root = Path(tmp) / f"ws{repeat}"
            shutil.copytree(source.root, root, ignore=shutil.ignore_patterns("store.h5*"))
            sync()
            started = time.perf_counter()
            result = extract_store(Workspace.open(root), config)
            sync()
            total = time.perf_counter() - started
            shutil.rmtree(root)
            runs.append(
                {
                    "total": total,
                    "bare": timed(bare_forward),
                    "ours": timed(extraction_forward),
                    **{f"part {k}": v for k, v in result.timings.items()},
                }
            )
    print(f"load average after: {load()}")
    best = {key: min(run[key] for run in runs) for key in runs[0]}

    print(f"device: {device_name()}; torch {torch.__version__}")
    print(
        f"model: {type(model).__name__} reward model, layer {layer} of "
        f"{model.config.num_hidden_layers}, d_model {d_model}, {dtype}"
    )
    print(
        f"texts: {len(keys):,}; tokens: {tokens:,} (stored {result.tokens:,}); batches: "
        f"{n_batches} in {len(shards)} shards (≤ {config.batch_tokens} padded tokens)"
    )
    print(f"repeats: {args.repeats}; best of each, seconds: " + ", ".join(
        f"{k} {v:.2f}" for k, v in best.items()
    ))  # fmt: skip
    print(
        f"end to end `extract_store`: {best['total']:.2f} s = {tokens / best['total']:,.0f} "
        f"tokens/s = {best['bare'] / best['total']:.0%} of bare (per repeat: "
        + ", ".join(f"{r['bare'] / r['total']:.0%}" for r in runs)
        + ")"
    )
    bare_rate = tokens / best["bare"]
    print(f"bare forward of {layer} blocks: {best['bare']:.2f} s = {bare_rate:,.0f} tokens/s")
    print(
        f"extraction forward (hook, gather, fp16): {best['ours']:.2f} s = "
        f"{tokens / best['ours']:,.0f} tokens/s = {best['bare'] / best['ours']:.0%} of bare"
    )


if __name__ == "__main__":
    main()
