"""`safer attribute`'s throughput against a bare forward and backward of the same model.

    .venv/bin/python benchmarks/attribution.py --workspace DIR [--sae ID] [--docs N]
                                               [--batch-tokens 4096] [--device cpu|cuda]

On a workspace with a store, a reward model and an SAE (the demo's, after `safer demo`):
the first `--docs` texts (all by default) go through

1. the bare pass: the same length-bucketed batches, forward through the whole reward model
   and backward to the layer's output (`LayerSwap.gradient`), nothing else;
2. attribution: the same, plus the SAE's decomposition of every token and the texts' sparse
   tables (`TextRunner.shard`), as the stage does it, without writing shards.

Prints tokens per second of each and attribution's share of the bare rate (goal: ≥ 70%).
Nothing is written to the workspace; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from safer_engine.activations.shard_work import length_batches
from safer_engine.attribution.stage import load_runner
from safer_engine.config import AttributionConfig
from safer_engine.models.batching import pad_batch
from safer_engine.progress import CancelToken
from safer_engine.store.reader import StoreReader
from safer_engine.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--sae", default=None)
    parser.add_argument("--docs", type=int, default=0, help="0: every text")
    parser.add_argument("--batch-tokens", type=int, default=AttributionConfig.batch_tokens)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    workspace = Workspace.open(args.workspace)
    sae_id = args.sae or workspace.sae_ids()[-1]
    config = AttributionConfig(batch_tokens=args.batch_tokens)
    with StoreReader(workspace.store_path) as reader:
        runner = load_runner(
            workspace.rm_model_dir, workspace.sae_dir(sae_id), reader, config, args.device
        )
        docs = range(args.docs or reader.n_docs)
        tokens = [reader.doc_tokens(d).tolist() for d in docs]
        n_tokens = sum(len(t) for t in tokens)
        print(
            f"{len(docs):,} texts, {n_tokens:,} tokens, layer {reader.layer}, SAE {sae_id} "
            f"({int(runner.sae.cfg.d_sae):,} features), device {runner.device}"
        )
        bare = bare_pass(runner, tokens, config.batch_tokens)
        started = time.perf_counter()
        runner.shard(docs, CancelToken())
        full = time.perf_counter() - started
    print(f"  bare forward + backward: {bare:6.1f} s, {n_tokens / bare:9,.0f} tokens/s")
    print(f"  attribution:             {full:6.1f} s, {n_tokens / full:9,.0f} tokens/s")
    print(f"  attribution's share of the bare rate: {bare / full:.0%} (goal ≥ 70%)")


def bare_pass(runner: object, tokens: list[list[int]], batch_tokens: int) -> float:
    """Seconds for the forward and backward of every batch, as attribution batches them."""
    from safer_engine.attribution.texts import TextRunner

    assert isinstance(runner, TextRunner)
    lengths = np.array([len(t) for t in tokens])
    started = time.perf_counter()
    for batch in length_batches(lengths, batch_tokens):
        inputs = pad_batch([tokens[i] for i in batch], runner.pad_id)
        runner.swap.gradient({k: v.to(runner.device) for k, v in inputs.items()})
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
