"""`safer encode` on one process and on several, and what bounds it: the SAE or the disk.

    .venv/bin/python benchmarks/encode.py [--tokens 500000] [--processes 2] [--dir DIR]

Builds a synthetic workspace (`safer_engine.testing.synthetic_workspace`, 128 tokens a text)
and adds a random sae-lens TopK SAE of `--n-latents` (16,384) and k (64), seed 0. Then:

1. each part of an encoding pass alone, over every stored row: reading the activations
   (the store evicted from the page cache first), the SAE on them (`encode_rows`, on the
   first `--sae-rows`, as a rate), and writing that many rows of codes into a codes file in
   parts (`CodesParts`: pwrite, then fsync at each part);
2. the encode stage itself (`encode_stage --force`) in one process, then in `--processes`
   processes under `accelerate launch` (one GPU each, or the CPU's cores shared: torchrun
   gives each process one thread), with the codes of both compared byte for byte.

Seconds are the stage's own (after imports and the SAE's load). Prints figures; asserts
nothing. The workspace is deleted afterwards unless given with `--dir`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

from safer_engine.analysis.code_chunks import read_rows
from safer_engine.artifacts import CODES_FILE
from safer_engine.codes.parts import CodesLayout, CodesParts, finish_parts, prepare_parts
from safer_engine.sae.encode import CHUNK_ROWS, PART_ROWS, encode_rows, load_sae
from safer_engine.sae.stage import import_sae
from safer_engine.store.reader import StoreReader
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace
from safer_engine.workspace import Workspace

TOKENS_PER_DOC = 128

STAGE = """
import sys
from pathlib import Path
from safer_engine.launch import is_main_process
from safer_engine.sae.stage import encode_stage
from safer_engine.workspace import Workspace
result = encode_stage(Workspace.open(Path(sys.argv[1])), sys.argv[2], force=True)
if is_main_process():
    print(f"SECONDS {result.seconds:.2f} PROCESSES {result.processes}")
"""


def workspace(root: Path, args: argparse.Namespace) -> tuple[Workspace, str]:
    """The synthetic workspace with the random SAE imported (both reused when present)."""
    spec = {"n_pairs": max(1, args.tokens // (2 * TOKENS_PER_DOC)), "d_model": args.d_model}
    if not (root / "workspace.json").exists():
        started = time.perf_counter()
        build_synthetic_workspace(
            root, tokens_per_doc=TOKENS_PER_DOC, n_latents=args.n_latents, k=args.k, **spec
        )
        print(f"built the workspace in {time.perf_counter() - started:.0f} s")
    folder = root / "sae" / f"random-topk{args.k}-{args.n_latents}"
    if not (folder / "cfg.json").exists():
        from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig

        torch.manual_seed(0)
        cfg = TopKSAEConfig(
            d_in=args.d_model, d_sae=args.n_latents, k=args.k, dtype="float32", device="cpu"
        )
        TopKSAE(cfg).save_model(str(folder))
    ws = Workspace.open(root)
    return ws, import_sae(ws, folder)


def evict(path: Path) -> None:
    """Drop a file's clean pages from the page cache, so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_pass(store: Path) -> tuple[int, int, float]:
    """Rows, bytes and seconds of reading every activation row as encoding does."""
    evict(store)
    started = time.perf_counter()
    with StoreReader(store) as reader:
        n_rows = int(reader.values.shape[0])
        for start in range(0, n_rows, CHUNK_ROWS):
            read_rows(reader.values, start, start + CHUNK_ROWS)
        width = int(reader.values.shape[1]) * 2
    return n_rows, n_rows * width, time.perf_counter() - started


def sae_pass(ws: Workspace, sae_id: str, limit: int) -> tuple[int, float]:
    """Rows and seconds of the SAE alone on the first `limit` rows, already in memory."""
    sae = load_sae(ws.sae_dir(sae_id))
    with StoreReader(ws.store_path) as reader:
        n_rows = min(limit, int(reader.values.shape[0]))
        chunks = [
            read_rows(reader.values, s, min(s + CHUNK_ROWS, n_rows))
            for s in range(0, n_rows, CHUNK_ROWS)
        ]
        encode_rows(sae, chunks[0], sae.cfg.k, reader.normalise)  # warm up
        started = time.perf_counter()
        for x in chunks:
            encode_rows(sae, x, sae.cfg.k, reader.normalise)
    return n_rows, time.perf_counter() - started


def write_pass(folder: Path, n_rows: int, k: int, n_latents: int) -> tuple[int, float]:
    """Bytes and seconds of writing `n_rows` rows of codes in parts, as encoding does."""
    target = folder / "write-pass.h5"
    layout = CodesLayout(n_rows, k, n_latents, PART_ROWS)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n_latents, size=(CHUNK_ROWS, k), dtype=np.int32)
    val = rng.random((CHUNK_ROWS, k)).astype(np.float16)
    started = time.perf_counter()
    prepare_parts(target, layout, {}, {})
    parts = CodesParts(target, layout)
    for part in range(layout.parts):
        rows = layout.rows(part)
        for start in range(rows.start, rows.stop, CHUNK_ROWS):
            count = min(CHUNK_ROWS, rows.stop - start)
            parts.write(start, idx[:count], val[:count])
        parts.mark_done(part)
    parts.close()
    finish_parts(target)
    seconds = time.perf_counter() - started
    target.unlink()
    return n_rows * k * 6, seconds


def run_stage(ws: Workspace, sae_id: str, processes: int) -> float:
    """The encode stage's seconds in one process, or under `accelerate launch`."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(STAGE)
    command = [sys.executable, script.name, str(ws.root), sae_id]
    if processes > 1:
        launcher = str(Path(sys.executable).parent / "accelerate")
        command = [
            launcher, "launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            *command[1:],
        ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    os.unlink(script.name)
    line = [x for x in done.stdout.splitlines() if x.startswith("SECONDS")]
    if done.returncode != 0 or not line:
        sys.exit(f"encoding failed:\n{done.stderr[-3000:]}")
    return float(line[0].split()[1])


def codes_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with h5py.File(path) as f:
        for name in ("codes_idx", "codes_val"):
            for start in range(0, f[name].shape[0], 1 << 20):
                digest.update(f[name][start : start + (1 << 20)].tobytes())
    return digest.hexdigest()[:16]


def report(args: argparse.Namespace, root: Path) -> None:
    ws, sae_id = workspace(root, args)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, CUDA: {torch.cuda.is_available()}")
    n_rows, read_bytes, read_s = read_pass(ws.store_path)
    print(
        f"store: {n_rows:,} rows of d_model {args.d_model}; SAE {args.n_latents:,} latents, "
        f"k={args.k}"
    )
    sae_rows, sae_s = sae_pass(ws, sae_id, args.sae_rows)
    write_bytes, write_s = write_pass(root, n_rows, args.k, args.n_latents)
    rates = {
        "read activations": (n_rows / read_s, f"{read_bytes / read_s / 1e6:,.0f} MB/s"),
        "SAE encode + top-k": (sae_rows / sae_s, f"on {sae_rows:,} rows"),
        "write codes": (n_rows / write_s, f"{write_bytes / write_s / 1e6:,.0f} MB/s"),
    }
    print("\n| part of a pass | rows/s | |\n|---|---|---|")
    for name, (rate, note) in rates.items():
        print(f"| {name} | {rate:,.0f} | {note} |")
    bound = min(rates, key=lambda name: rates[name][0])
    print(f"\nslowest part: {bound}")

    codes = ws.sae_dir(sae_id) / CODES_FILE
    print("\n| encode stage | seconds | rows/s | codes |\n|---|---|---|---|")
    digests = []
    for processes in sorted({1, args.processes}):
        seconds = run_stage(ws, sae_id, processes)
        digests.append(codes_digest(codes))
        same = (
            "reference"
            if len(digests) == 1
            else ("identical" if digests[-1] == digests[0] else "DIFFERENT")
        )
        print(f"| {processes} process(es) | {seconds:.1f} | {n_rows / seconds:,.0f} | {same} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=500_000)
    parser.add_argument("--d-model", type=int, default=16)
    parser.add_argument("--n-latents", type=int, default=16384)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--sae-rows", type=int, default=20 * CHUNK_ROWS)
    parser.add_argument("--dir", type=Path, help="Workspace to build or reuse, and keep.")
    args = parser.parse_args()
    if args.dir is not None:
        report(args, args.dir)
        return
    root = Path(tempfile.mkdtemp(prefix="safer-encode-")) / "ws"
    try:
        report(args, root)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
