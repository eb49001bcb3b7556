"""Feature statistics, salience table and feature index on a synthetic store-sized input.

    .venv/bin/python benchmarks/salience.py [--rows 20000000] [--k 64] [--n-latents 16384]
        [--max-per-feature 1024] [--skip-full-index] [--one-sided] [--dir DIR]

Writes SAE codes shaped like a real store's (idx int32 and val float16 [rows, k], Zipf-like
feature popularity, exponential activations scaled per feature, ~1% zero padding; ~20k
documents with random pair counts, by default independent on the two sides so most documents
are on both, the slow case for the weighted sums; `--one-sided` puts each document on one
side, as in real data; 10% of rows selected) as np.memmap files in a temporary
folder, reopens them read-only memory-mapped like the store, then times each step. Latent ids
are drawn independently, so a row may repeat a latent; that costs the code under test nothing.

The inputs are in the page cache (just written), so each pass over the codes reads memory.
"Read pass" is a bare chunked max over the same memmaps: the memory-bandwidth floor.
Peak memory: tracemalloc's peak of numpy/Python allocations in each step, and the process's
ru_maxrss (which also counts the memory-mapped input pages it touched). Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from safer_engine.analysis.code_chunks import CHUNK_ENTRIES
from safer_engine.analysis.feature_index import build_feature_index
from safer_engine.analysis.feature_stats import feature_stats
from safer_engine.analysis.salience import salience_table, top_candidates

GEN_ROWS = 1 << 18
ZIPF_S = 0.6  # popularity ∝ rank^-0.6: the most popular latent fires on ~half of all rows


def write_inputs(
    folder: Path, rows: int, k: int, n_latents: int, n_docs: int, one_sided: bool = False
) -> None:
    """Synthetic codes, documents and selection as raw files in `folder`."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(n_latents).astype(np.int32)
    scale = rng.lognormal(0.0, 0.5, n_latents).astype(np.float32)
    idx = np.lib.format.open_memmap(folder / "idx.npy", "w+", np.int32, (rows, k))
    val = np.lib.format.open_memmap(folder / "val.npy", "w+", np.float16, (rows, k))
    span = (n_latents + 1) ** (1 - ZIPF_S) - 1
    for r0 in range(0, rows, GEN_ROWS):
        n = min(GEN_ROWS, rows - r0)
        u = rng.random((n, k), dtype=np.float32)
        rank = (1 + u * span) ** (1 / (1 - ZIPF_S))
        ids = perm[np.minimum(rank.astype(np.int64), n_latents) - 1]
        acts = rng.standard_exponential((n, k), dtype=np.float32) * scale[ids]
        acts[rng.random((n, k), dtype=np.float32) < 0.01] = 0
        idx[r0 : r0 + n] = ids
        val[r0 : r0 + n] = acts
    idx.flush()
    val.flush()
    cuts = np.sort(rng.choice(rows, n_docs - 1, replace=False))
    np.save(folder / "row_doc.npy", np.searchsorted(cuts, np.arange(rows), side="right"))
    np.save(folder / "selected.npy", rng.random(rows) < 0.1)
    chosen = rng.integers(0, 4, n_docs).astype(np.float64)
    rejected = rng.integers(0, 4, n_docs).astype(np.float64)
    if one_sided:
        rejected[chosen > 0] = 0
    np.save(folder / "chosen_weight.npy", chosen)
    np.save(folder / "rejected_weight.npy", rejected)


def load_inputs(folder: Path) -> dict[str, np.ndarray]:
    """Every input, memory-mapped read-only."""
    names = ["idx", "val", "row_doc", "selected", "chosen_weight", "rejected_weight"]
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in names}


def timed(label: str, run: Callable[[], Any], nbytes: int = 0) -> Any:
    """Run once; print wall seconds, throughput and tracemalloc peak."""
    tracemalloc.reset_peak()
    started = time.perf_counter()
    result = run()
    wall = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    rate = f"; {nbytes / wall / 1e9:5.2f} GB/s of codes" if nbytes else ""
    print(f"{label:<42} {wall:7.2f} s; peak alloc {peak / 2**30:6.2f} GiB{rate}")
    return result


def read_pass(idx: np.ndarray, val: np.ndarray) -> int:
    """Touch every code once, chunked like the code under test."""
    step = CHUNK_ENTRIES // idx.shape[1]
    top = 0
    for r0 in range(0, idx.shape[0], step):
        top = max(top, int(idx[r0 : r0 + step].max()), int(val[r0 : r0 + step].view("u2").max()))
    return top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--n-latents", type=int, default=16384)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--max-per-feature", type=int, default=1024)
    parser.add_argument("--skip-full-index", action="store_true")
    parser.add_argument("--one-sided", action="store_true", help="each document on one side")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        write_inputs(folder, args.rows, args.k, args.n_latents, args.docs, args.one_sided)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load}; "
            f"numpy {np.__version__}"
        )
        print(
            f"input: {args.rows:,} rows × k={args.k}, {args.n_latents:,} latents, "
            f"{args.docs:,} docs; written in {time.perf_counter() - started:.0f} s"
        )
        run_all(load_inputs(folder), args)


def run_all(inputs: dict[str, np.ndarray], args: argparse.Namespace) -> None:
    """Time every step on memory-mapped inputs."""
    idx, val = inputs["idx"], inputs["val"]
    codes = idx.nbytes + val.nbytes
    print(f"codes: {codes / 2**30:.2f} GiB (idx int32 + val float16), memory-mapped")
    tracemalloc.start()
    timed("read pass (bandwidth floor)", lambda: read_pass(idx, val), codes)
    stats = timed(
        "feature_stats",
        lambda: feature_stats(
            idx,
            val,
            inputs["row_doc"],
            inputs["selected"],
            inputs["chosen_weight"],
            inputs["rejected_weight"],
            args.n_latents,
        ),
        codes,
    )
    table = timed("salience_table", lambda: salience_table(stats))
    timed("top_candidates(256)", lambda: top_candidates(table))
    m = args.max_per_feature
    index = timed(
        f"build_feature_index(max_per_feature={m})",
        lambda: build_feature_index(idx, val, args.n_latents, max_per_feature=m),
    )
    print(f"  kept {index[1].size:,} entries ({sum(a.nbytes for a in index) / 2**20:.0f} MiB)")
    del index
    if not args.skip_full_index:
        index = timed(
            "build_feature_index(max_per_feature=None)",
            lambda: build_feature_index(idx, val, args.n_latents),
        )
        print(f"  kept {index[1].size:,} entries ({sum(a.nbytes for a in index) / 2**30:.1f} GiB)")
        del index
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"ru_maxrss {maxrss:.2f} GiB (includes touched memory-mapped input pages)")


if __name__ == "__main__":
    main()
