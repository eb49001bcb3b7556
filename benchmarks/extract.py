"""Extraction throughput: `safer extract` end to end, and its forward pass against a bare
forward of the same first L blocks on the same batches (docs/ARCHITECTURE.md: ≥ 80% on a GPU).

    .venv/bin/python benchmarks/extract.py [--workspace DIR] [--repeats 3]

The workspace needs a trained reward model (`safer demo` builds one). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import copy
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from safer_engine.activations.extract import _batches, _doc_index, _encode_docs, extract_store
from safer_engine.activations.vocab import vocab_pieces
from safer_engine.config import ExtractConfig
from safer_engine.models.batching import pad_batch
from safer_engine.models.blocks import BlockOutput, default_layer, find_blocks
from safer_engine.models.reward_model import load_trained_rm
from safer_engine.progress import CancelToken, no_progress
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


def timed(run, batches, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        for inputs in batches:
            run(inputs)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspace", type=Path, default=default_workspace())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-tokens", type=int, default=ExtractConfig.batch_tokens)
    args = parser.parse_args()
    source = Workspace.open(args.workspace)
    config = ExtractConfig(batch_tokens=args.batch_tokens)

    with tempfile.TemporaryDirectory() as tmp:
        copy_root = Path(tmp) / "ws"
        shutil.copytree(source.root, copy_root, ignore=shutil.ignore_patterns("store.h5*"))
        started = time.perf_counter()
        result = extract_store(Workspace.open(copy_root), config)
        total = time.perf_counter() - started

    model, tokenizer, fmt, _ = load_trained_rm(source.rm_model_dir)
    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda else torch.float32
    model.to(device="cuda" if cuda else "cpu", dtype=dtype).eval()
    layer = default_layer(model)
    table, _ = source.pairs()
    keys, _, _ = _doc_index(table.sort("pair_id"))
    docs = _encode_docs(
        keys, tokenizer, fmt, vocab_pieces(tokenizer), config, no_progress, CancelToken()
    )
    device = next(model.parameters()).device
    batches = []
    for batch in _batches(list(range(len(keys))), docs, config.batch_tokens):
        inputs = pad_batch([docs.ids[d] for d in batch], tokenizer.pad_token_id)
        batches.append(({k: v.to(device) for k, v in inputs.items()}, batch))
    tokens = sum(int(i["attention_mask"].sum()) for i, _ in batches)
    hook = BlockOutput(model, layer)
    bare = truncated(model, layer).to(device=device, dtype=dtype)

    def ours(item) -> None:  # type: ignore[no-untyped-def]
        inputs, batch = item
        hidden = hook(inputs["input_ids"], inputs["attention_mask"]).float().cpu().numpy()
        for row, doc in enumerate(batch):
            hidden[row, docs.kept[doc]].astype(np.float16)

    def reference(item) -> None:  # type: ignore[no-untyped-def]
        bare(**item[0])

    with torch.inference_mode():
        timed(ours, batches[:2], 1)  # warm-up
        bare_s = timed(reference, batches, args.repeats)
        ours_s = timed(ours, batches, args.repeats)

    print(f"device: {device_name()}; torch {torch.__version__}")
    print(
        f"model: {type(model).__name__} reward model, layer {layer} of "
        f"{model.config.num_hidden_layers}, d_model {model.config.hidden_size}, {dtype}"
    )
    print(
        f"texts: {len(keys):,}; tokens: {tokens:,}; batches: {len(batches)} "
        f"(≤ {config.batch_tokens} padded tokens)"
    )
    print(
        f"end to end `extract_store`: {total:.1f} s = {result.tokens / total:,.0f} tokens/s "
        f"(tokenising, forward, shards, HDF5 write)"
    )
    print(f"bare forward of {layer} blocks: {bare_s:.2f} s = {tokens / bare_s:,.0f} tokens/s")
    print(
        f"extraction forward (hook, copy, fp16): {ours_s:.2f} s = {tokens / ours_s:,.0f} "
        f"tokens/s = {bare_s / ours_s:.0%} of bare"
    )


if __name__ == "__main__":
    main()
