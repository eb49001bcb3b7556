"""Peak resident memory of each big-store step, on a synthetic encoded workspace of 20M tokens
(16,384 latents, k=64; `safer_engine.testing.synthetic_workspace`, as benchmarks/tui.py).

    .venv/bin/python benchmarks/memory.py [--tokens 20000000] [--dir DIR] [--keep]

Each step runs in a process of its own: its peak resident set comes from the kernel
(`wait4`, what `/usr/bin/time -v` reports), the interpreter and its imports included, and
its anonymous memory (arrays, heap) is sampled from /proc every 10 ms; pages of
memory-mapped files count in the resident set too, but the kernel drops them under pressure.
Steps:

- extraction's store writer: the main process's assembly of `store.h5` from finished
  shards (`_tables` + `write_store`), from shards cut out of the synthetic store (layout 3,
  256 texts each, as `safer extract` writes them);
- `safer encode`'s codes (`encode_store`) with a random sae-lens TopK SAE of the same
  shape (16 → 16,384, k=64, seed 0), on smaller synthetic workspaces of `--encode-tokens`
  (encoding 20M tokens takes about 30 min on 2 CPU cores; the step holds one chunk of rows
  at a time, so its peak does not grow with the store: compare the sizes);
- the salience stage of `safer encode` (feature statistics and the feature index, which
  keeps each feature's top 4,096 rows past 200M codes);
- `safer score-pairs --select salience` (from scratch: saved scores are removed first);
- `safer edit plan --mode poison --ratio 5 --select salience`;
- the explorer: start to the first frame of the Features screen, and on to the first
  feature page (`enter`, which opens the store and the feature index).

The workspace is built in a temporary folder (several GiB) and deleted afterwards, unless
`--dir` (reused when it holds the same sizes) or `--keep`. Prints a table; asserts nothing
but says whether each step stays under `--limit-gib` (4 by default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from safer_engine.testing.synthetic_workspace import build_synthetic_workspace, synthetic_sae_id
from safer_engine.workspace import Workspace

SHARD_DOCS = 256

CUT_SHARDS = """
import sys
from pathlib import Path
import numpy as np
from safer_engine.store.reader import StoreReader
from safer_engine.store.writer import save_shard
root, folder, per = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
folder.mkdir(parents=True, exist_ok=True)
with StoreReader(root / "store.h5") as r:
    row_doc = np.asarray(r.row_doc)
    for number, a in enumerate(range(0, r.n_docs, per)):
        b = min(a + per, r.n_docs)
        t0, t1 = int(r.tok_start[a]), int(r.tok_end[b - 1])
        lo, hi = np.searchsorted(row_doc, [a, b])
        doc = row_doc[lo:hi]
        save_shard(
            folder / f"shard-{number:05d}.npz",
            values=np.asarray(r.values[lo:hi]),
            doc=doc,
            position=np.asarray(r.token_row[lo:hi]) - r.tok_start[doc],
            selected=np.asarray(r.selected[lo:hi]),
            ids=np.asarray(r.token_ids[t0:t1]),
            lengths=(r.tok_end[a:b] - r.tok_start[a:b]).astype(np.int64),
            response=np.stack([r.resp_start[a:b] - r.tok_start[a:b],
                               r.resp_end[a:b] - r.tok_start[a:b]], axis=1),
            chars=np.stack([np.asarray(r.char_start[t0:t1]),
                            np.asarray(r.char_end[t0:t1])], axis=1),
        )
"""

WRITE_STORE = """
import json, sys
from pathlib import Path
from safer_engine.activations.extract import _doc_index, _tables
from safer_engine.store.reader import StoreReader
from safer_engine.store.writer import write_store
from safer_engine.workspace import Workspace
root, folder = Path(sys.argv[1]), Path(sys.argv[2])
workspace = Workspace.open(root)
table = workspace.pairs()[0].sort("pair_id")
keys, chosen, rejected = _doc_index(table)
with StoreReader(root / "store.h5") as r:
    pieces, layer, d_model = r.piece_bytes, r.layer, r.d_model
paths = sorted(folder.glob("shard-*.npz"))
tables = _tables(table, keys, chosen, rejected, pieces, paths)
write_store(folder / "store.h5", tables, paths, layer, d_model,
            {"config": {}, "data_fingerprint": "", "layer": layer, "d_model": d_model,
             "normalise": True, "policy": "sentence_end", "model": "synthetic"})
"""

SAME_STORE = """
import sys
from pathlib import Path
import numpy as np
from safer_engine.store.reader import StoreReader
with StoreReader(Path(sys.argv[1])) as a, StoreReader(Path(sys.argv[2])) as b:
    names = ("tok_start", "tok_end", "resp_start", "resp_end", "token_ids", "values",
             "token_row", "row_doc", "selected", "text_utf8", "char_start", "char_end")
    differ = [n for n in names if not np.array_equal(getattr(a, n), getattr(b, n))]
    print("same" if not differ and a.piece_bytes == b.piece_bytes else f"differ: {differ}")
"""

ENCODE = """
import sys
from pathlib import Path
import torch
from sae_lens.saes.topk_sae import TopKSAE, TopKSAEConfig
from safer_engine.sae.encode import encode_store
root, folder = Path(sys.argv[1]), Path(sys.argv[2])
n_latents, k = int(sys.argv[3]), int(sys.argv[4])
if not (folder / "cfg.json").exists():
    torch.manual_seed(0)
    cfg = TopKSAEConfig(d_in=16, d_sae=n_latents, k=k, dtype="float32", device="cpu")
    TopKSAE(cfg).save_model(str(folder))
encode_store(root / "store.h5", folder)
"""

SALIENCE = """
import sys
from pathlib import Path
from safer_engine.salience.stage import salience_stage
from safer_engine.workspace import Workspace
salience_stage(Workspace.open(Path(sys.argv[1])), sys.argv[2], force=True)
"""

EXPLORER = """
import asyncio, sys
from pathlib import Path
from safer_tui.app import SaferApp
app = SaferApp(Path(sys.argv[1]))
async def run():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        if sys.argv[2] == "page":
            await pilot.press("enter")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert type(app.screen).__name__ == "FeatureScreen", type(app.screen).__name__
asyncio.run(run())
"""


def _status(pid: int) -> dict[str, int]:
    """RssAnon, RssFile and VmHWM of a running process, in KiB (empty once it exited)."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in ("RssAnon", "RssFile", "VmHWM"):
                    fields[name] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def _child_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            children = f.read().split()
    except FileNotFoundError:
        return None
    return int(children[0]) if children else None


def measured(command: list[str]) -> tuple[float, float, float, float]:
    """(peak resident GiB, peak anonymous GiB, file-backed GiB at that peak, seconds) of a
    command: the peak resident set as `/usr/bin/time` reports it (`%M`; the launcher is
    small, so the figure is the command's own) and, sampled every 10 ms from /proc, the most
    anonymous memory (heap, arrays) and the file-backed part of the resident set (pages of
    memory-mapped files, which the kernel may drop under pressure) at that moment."""
    started = time.perf_counter()
    timer = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    anon = file = 0
    target = None
    while timer.poll() is None:
        target = target or _child_of(timer.pid)
        fields = _status(target) if target else {}
        if fields.get("RssAnon", 0) > anon:
            anon, file = fields["RssAnon"], fields.get("RssFile", 0)
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    stderr = timer.stderr.read() if timer.stderr else ""
    if timer.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{stderr[-3000:]}")
    peak = int(stderr.strip().splitlines()[-1])
    return peak / 2**20, anon / 2**20, file / 2**20, seconds


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "safer_engine.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=20_000_000)
    parser.add_argument("--tokens-per-doc", type=int, default=128)
    parser.add_argument("--n-latents", type=int, default=16384)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--dir", type=Path, default=None, help="build (or reuse) it here")
    parser.add_argument("--keep", action="store_true", help="keep the workspace afterwards")
    parser.add_argument("--limit-gib", type=float, default=4.0)
    parser.add_argument(
        "--encode-tokens",
        default="250000,2000000",
        help="sizes of the workspaces `safer encode` is measured on, comma-separated",
    )
    args = parser.parse_args()
    spec = {
        "n_pairs": max(1, args.tokens // (2 * args.tokens_per_doc)),
        "tokens_per_doc": args.tokens_per_doc,
        "n_latents": args.n_latents,
        "k": args.k,
        "d_model": 16,
        "seed": 0,
    }
    tmp = Path(tempfile.mkdtemp(prefix="safer-memory-"))
    root = (args.dir or tmp / "ws").expanduser().resolve()
    try:
        run(root, spec, args)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.dir is not None:
                shutil.rmtree(root / "writer-shards", ignore_errors=True)
                for folder in root.parent.glob(f"{root.name}-encode-*"):
                    shutil.rmtree(folder, ignore_errors=True)


def encode_steps(
    root: Path, spec: dict[str, int], args: argparse.Namespace
) -> list[tuple[str, list[str]]]:
    """`encode_store` on a smaller workspace of each `--encode-tokens` size, built beside
    `root` (the codes the builder wrote are kept; the random SAE writes its own)."""
    steps = []
    for tokens in (int(t) for t in args.encode_tokens.split(",") if t):
        small = {**spec, "n_pairs": max(1, tokens // (2 * spec["tokens_per_doc"]))}
        folder = root.parent / f"{root.name}-encode-{tokens}"
        extract = (
            Workspace.open(folder).stage("extract")
            if (folder / "workspace.json").exists()
            else None
        )
        if extract is None or extract.info.get("synthetic") != small:
            shutil.rmtree(folder, ignore_errors=True)
            build_synthetic_workspace(folder, **small)
        rows = int(Workspace.open(folder).stage("extract").info.get("rows", 0))  # type: ignore[union-attr]
        sae = folder / "sae" / f"random-topk{args.k}-{args.n_latents}"
        command = python(ENCODE, str(folder), str(sae), str(args.n_latents), str(args.k))
        steps.append((f"safer encode: codes of {rows:,} rows ({tokens:,} tokens)", command))
    return steps


def run(root: Path, spec: dict[str, int], args: argparse.Namespace) -> None:
    extract = Workspace.open(root).stage("extract") if (root / "workspace.json").exists() else None
    if extract is None or extract.info.get("synthetic") != spec:
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        build_synthetic_workspace(root, **spec)
        print(f"built the workspace in {time.perf_counter() - started:.0f} s")
    sae_id = synthetic_sae_id(args.n_latents, args.k)
    workspace = Workspace.open(root)
    rows = int(workspace.stage("extract").info.get("rows", 0))  # type: ignore[union-attr]
    print(
        f"workspace: {spec['n_pairs']:,} pairs, {spec['n_pairs'] * 2 * spec['tokens_per_doc']:,}"
        f" tokens, {rows:,} stored rows, {args.n_latents:,} latents, k={args.k}, "
        f"d_model {spec['d_model']}; {rows * args.k:,} codes"
    )
    shards = root / "writer-shards"
    shutil.rmtree(shards, ignore_errors=True)
    subprocess.run(python(CUT_SHARDS, str(root), str(shards), str(SHARD_DOCS)), check=True)
    steps: list[tuple[str, list[str]]] = [
        ("python + numpy + h5py imports (floor)", python("import numpy, h5py, polars")),
        ("extraction's store writer (assembly)", python(WRITE_STORE, str(root), str(shards))),
        *encode_steps(root, spec, args),
        ("salience stage (feature stats + index)", python(SALIENCE, str(root), sae_id)),
        (
            "safer score-pairs --select salience",
            cli("score-pairs", "--workspace", str(root), "--select", "salience"),
        ),
        (
            "safer edit plan --mode poison --ratio 5",
            cli(
                *("edit", "plan", "--workspace", str(root)),
                *("--mode", "poison", "--ratio", "5", "--select", "salience"),
            ),
        ),
        ("explorer: start to first frame", python(EXPLORER, str(root), "start")),
        ("explorer: start + first feature page", python(EXPLORER, str(root), "page")),
    ]
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"| step | peak resident | peak anonymous (file-backed then) | wall | "
        f"resident under {args.limit_gib:g} GiB |"
    )
    print("|---|---:|---:|---:|---|")
    for name, command in steps:
        if "score-pairs" in name:
            shutil.rmtree(workspace.sae_dir(sae_id) / "scores", ignore_errors=True)
        peak, anon, file, seconds = measured(command)
        ok = "yes" if peak < args.limit_gib else "**no**"
        print(
            f"| {name} | {peak:.2f} GiB | {anon:.2f} GiB ({file:.2f}) | {seconds:.1f} s | {ok} |",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    same = subprocess.run(
        python(SAME_STORE, str(root / "store.h5"), str(shards / "store.h5")),
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"the store the writer assembled, against the workspace's: {same.stdout.strip()}")
    shutil.rmtree(shards, ignore_errors=True)


if __name__ == "__main__":
    main()
