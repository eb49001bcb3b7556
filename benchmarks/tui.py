"""Explorer responsiveness on a synthetic workspace with many SAE features, driven by
Textual's pilot: time to first paint of the Features screen and to re-sort it.

    .venv/bin/python benchmarks/tui.py [--features 16384]

DESIGN §6 promises first paint < 1 s and re-sorting 16k features < 30 ms (and a feature page
< 50 ms p95 on a 20M-token store, measured separately). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from safer_engine.workspace import Workspace
from safer_tui.app import SaferApp


def synthetic_workspace(root: Path, n: int) -> Path:
    """A workspace whose encode stage points at a feature table of `n` random features."""
    workspace = Workspace.open(root, create=True)
    workspace.record_stage("encode", id="synthetic")
    rng = np.random.default_rng(0)
    salience = rng.uniform(-1, 1, n)
    folder = workspace.sae_dir("synthetic")
    folder.mkdir(parents=True)
    pl.DataFrame(
        {
            "feature": np.arange(n),
            "salience": salience,
            "abs_salience": np.abs(salience),
            "mean_act_diff": salience * 2,
            "firing_rate_diff": salience / 2,
            "density": rng.random(n),
            "max_act": rng.random(n) * 10,
        }
    ).write_parquet(folder / "salience.parquet")
    return workspace.root


async def measure(root: Path) -> tuple[float, float]:
    started = time.perf_counter()
    app = SaferApp(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first_paint = time.perf_counter() - started
        started = time.perf_counter()
        await pilot.press("s")
        await pilot.pause()
        resort = time.perf_counter() - started
    return first_paint, resort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, default=16384)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic_workspace(Path(tmp) / "ws", args.features)
        first_paint, resort = asyncio.run(measure(root))
    print(f"features: {args.features:,}")
    print(f"Features screen first paint (app start to first frame): {first_paint:.2f} s")
    print(f"re-sort (press s, until the frame is drawn): {resort * 1000:.0f} ms")


if __name__ == "__main__":
    main()
