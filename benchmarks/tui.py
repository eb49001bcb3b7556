"""Explorer responsiveness on a synthetic encoded workspace of many tokens, driven by
Textual's pilot at 80×24.

    .venv/bin/python benchmarks/tui.py [--tokens 20000000] [--tokens-per-doc 128]
        [--n-latents 16384] [--k 64] [--dir DIR] [--presses 50]

Builds the workspace with `build_synthetic_workspace` (safer_engine.testing, through the
real store and codes writers) in a temporary folder, or in DIR, where a later run with the
same sizes reuses it; tags the 5 most positive features safe and the 5 most negative unsafe
(so pair scores do real work). Then prints:

- the build time and the size on disk;
- a cold start: a new interpreter importing and opening the explorer, to its first frame;
- engine only (no UI), after evicting the workspace from the page cache: opening
  `FeatureExamples`, one feature's examples, and the pair scores behind the Pairs screen;
- the explorer in this process, twice: with the workspace evicted from the page cache
  (`posix_fadvise(DONTNEED)`, as after a reboot), then warm: app start to the first frame
  of the Features screen, re-sorting (`s` through every sort and back), the first feature
  page (`enter`: includes opening the store), the next feature pages (`]`, median and p95),
  the Pairs screen (`escape`, `p`, until its table has rows) and listing its pairs again in
  each of its sorts (`s`: the table of up to 2,000 pairs, each with its text, made anew).

A key is timed to the last frame it caused (`App._display` is wrapped: headless runs compose
every frame and drop it there) and, for comparison, to the pilot finding the app idle, which
adds the pilot's own waits (about 64 ms for a key that does nothing). docs/ARCHITECTURE.md promises:
first paint < 1 s, a feature page < 50 ms p95 and re-sorting 16k features < 30 ms on a
store of 20M tokens. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safer_engine.artifacts import SALIENCE_FILE
from safer_engine.codes.examples import FeatureExamples
from safer_engine.config import SelectionConfig
from safer_engine.scores.stage import score_pairs
from safer_engine.testing.synthetic_workspace import build_synthetic_workspace, synthetic_sae_id
from safer_engine.workspace import Workspace

SORT_CYCLE = 8  # s steps through the 8 columns shown at 80×24 and back to |salience|
PAIR_SORTS = 3  # s on the Pairs screen: slice, pair, and back to score
PAIRS_TIMEOUT_S = 600.0
TAGGED = 5  # features tagged safe and unsafe before the Pairs screen opens


def spec(args: argparse.Namespace) -> dict[str, int]:
    """The builder's arguments for these options, as the workspace records them."""
    return {
        "n_pairs": max(1, args.tokens // (2 * args.tokens_per_doc)),
        "tokens_per_doc": args.tokens_per_doc,
        "n_latents": args.n_latents,
        "k": args.k,
        "d_model": 16,
        "seed": 0,
    }


def rows_of(root: Path) -> int:
    extract = Workspace.open(root).stage("extract")
    return int(extract.info.get("rows", 0)) if extract else 0


def prepare(root: Path, wanted: dict[str, int]) -> float | None:
    """Build the workspace at `root` unless it holds this one; the build's seconds or None."""
    if (root / "workspace.json").exists():
        extract = Workspace.open(root).stage("extract")
        made = extract.info.get("synthetic") if extract else None
        if made == wanted:
            return None
        if made is None:
            sys.exit(f"{root} holds a workspace that is not synthetic; choose another --dir.")
        shutil.rmtree(root)
    started = time.perf_counter()
    build_synthetic_workspace(root, **wanted)
    return time.perf_counter() - started


def tag_leaders(root: Path, sae_id: str, n: int = TAGGED) -> tuple[list[int], list[int]]:
    """Tag the n most positive features safe and the n most negative unsafe, as a first
    look would; the pair scores then do real work. Returns (safe, unsafe)."""
    from safer_engine.labels import LabelStore

    workspace = Workspace.open(root)
    table = pl.read_parquet(workspace.sae_dir(sae_id) / SALIENCE_FILE).sort("salience")
    safe, unsafe = table["feature"].tail(n).to_list(), table["feature"].head(n).to_list()
    with LabelStore.open(workspace.labels_path, "benchmark") as labels:
        current = labels.current(sae_id)
        for features, tag in ((safe, "safe"), (unsafe, "unsafe")):
            if any(current.get(f) is None or current[f].tag != tag for f in features):
                labels.bulk_tag(sae_id, features, tag)
    return safe, unsafe


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in root.rglob("*") if p.is_file())


def evict(root: Path) -> None:
    """Drop the workspace's files from the page cache (clean pages; no root needed)."""
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


COLD_START = """
import asyncio, sys, time
from pathlib import Path
from safer_tui.app import SaferApp
imported, frames = time.perf_counter(), []
app = SaferApp(Path(sys.argv[1]))
display = app._display
def timed_display(screen, renderable):
    display(screen, renderable)
    if renderable is not None and type(screen).__name__ != "Screen":
        frames.append(time.perf_counter())
app._display = timed_display
async def run():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
asyncio.run(run())
print(imported, frames[0], frames[-1])
"""


def cold_start(root: Path) -> tuple[float, float, float]:
    """A fresh interpreter opening the explorer: seconds from spawning it to the end of its
    imports, to the first frame of the Features screen, and to the last frame before idle
    (perf_counter is the system-wide monotonic clock on Linux, so both processes share it)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", COLD_START, str(root)], capture_output=True, text=True, check=True
    )
    imported, first, last = (float(v) - started for v in out.stdout.split())
    return imported, first, last


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def spread(samples: list[float]) -> str:
    values = np.asarray(samples)
    return (
        f"median {ms(float(np.median(values)))}, p95 {ms(float(np.percentile(values, 95)))}, "
        f"max {ms(float(values.max()))} (n={values.size})"
    )


def timed(run: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def engine_figures(root: Path, sae_id: str, presses: int) -> None:
    """The engine calls behind the feature page and the Pairs screen, without the UI."""
    tag_leaders(root, sae_id)  # the tags select the features the scores use
    workspace = Workspace.open(root)
    features = pl.read_parquet(workspace.sae_dir(sae_id) / SALIENCE_FILE)["feature"].to_list()
    evict(root)
    examples, opened = timed(
        lambda: FeatureExamples(workspace.store_path, workspace.sae_dir(sae_id))
    )
    try:
        _, first = timed(lambda: examples.examples(features[0]))
        steps = [timed(lambda f=f: examples.examples(f))[1] for f in features[1 : presses + 1]]
        _, again = timed(lambda: examples.examples(features[0]))
    finally:
        examples.close()
    (workspace.sae_dir(sae_id) / "scores" / "pair_scores.parquet").unlink(missing_ok=True)
    config = SelectionConfig()
    _, scores = timed(lambda: score_pairs(workspace, sae_id, config, {}))
    reused, scores_again = timed(lambda: score_pairs(workspace, sae_id, config, {}))
    assert reused.reused
    print("engine only (page cache evicted first):")
    print(f"  FeatureExamples(...) open:                 {ms(opened)}")
    print(f"  examples(top feature), cold:               {ms(first)}")
    print(f"  examples(next {len(steps)} features):              {spread(steps)}")
    print(f"  examples(top feature) again, warm:         {ms(again)}")
    print(
        f"  score_pairs (every pair, {TAGGED}+{TAGGED} tagged):    {scores:.2f} s; "
        f"saved scores reused {scores_again:.2f} s"
    )


async def poll_pairs(pilot: Any, timeout: float) -> bool:
    from textual.css.query import NoMatches

    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if pilot.app.screen.query_one("#pairs").row_count > 0:
                return True
        except NoMatches:
            pass
        await pilot.pause(0.05)
    return False


class PaintClock:
    """When the app last composed a frame: wraps `App._display`, which the screen calls
    with each full or partial update (headless runs compose frames and drop them there)."""

    def __init__(self, app: Any) -> None:
        self.first_screen: float | None = None  # first frame of a screen of the app's own
        self.last = 0.0
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                self.last = time.perf_counter()
                if self.first_screen is None and type(screen).__name__ != "Screen":
                    self.first_screen = self.last

        app._display = timed_display


async def press(pilot: Any, clock: PaintClock, key: str) -> tuple[float, float]:
    """(key to the last frame it caused, key to the pilot finding the app idle)."""
    started = time.perf_counter()
    await pilot.press(key)
    await pilot.pause()
    # Feature pages and scores arrive from thread workers: their frame counts too.
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    idle = time.perf_counter() - started
    return max(clock.last - started, 0.0), idle


async def explorer_figures(root: Path, presses: int) -> dict[str, Any]:
    from safer_tui.app import SaferApp

    figures: dict[str, Any] = {}
    started = time.perf_counter()
    app = SaferApp(root)
    clock = PaintClock(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        figures["settled"] = time.perf_counter() - started
        figures["first paint"] = (clock.first_screen or time.perf_counter()) - started
        figures["last paint"] = clock.last - started
        figures["no-op key"] = [await press(pilot, clock, "z") for _ in range(10)]
        figures["re-sort"] = [await press(pilot, clock, "s") for _ in range(SORT_CYCLE)]
        figures["first feature page"] = [await press(pilot, clock, "enter")]
        figures["page screen"] = type(app.screen).__name__
        figures["page steps"] = [
            await press(pilot, clock, "right_square_bracket") for _ in range(presses)
        ]
        await pilot.press("escape")
        await pilot.pause()
        started = time.perf_counter()
        await pilot.press("p")
        figures["pairs ok"] = await poll_pairs(pilot, PAIRS_TIMEOUT_S)
        figures["pairs"] = time.perf_counter() - started
        figures["pairs re-sort"] = [await press(pilot, clock, "s") for _ in range(PAIR_SORTS)]
    return figures


def key_line(label: str, samples: list[tuple[float, float]]) -> str:
    """Key-to-frame spread, then the pilot's press-to-idle median."""
    frames, idle = [s[0] for s in samples], [s[1] for s in samples]
    paint = ms(frames[0]) if len(frames) == 1 else spread(frames)
    return f"  {label:<42} {paint}; press to idle {ms(float(np.median(idle)))}"


def print_explorer(label: str, figures: dict[str, Any]) -> None:
    print(f"explorer, {label} (key to frame; press to idle includes the pilot's idle wait):")
    print(
        f"  {'app start to first frame of Features:':<42} {ms(figures['first paint'])}; "
        f"last frame {ms(figures['last paint'])}; idle {ms(figures['settled'])}"
    )
    print(key_line("a key with no binding (z):", figures["no-op key"]))
    print(key_line(f"re-sort (s, {SORT_CYCLE} sorts and back):", figures["re-sort"]))
    print(
        key_line(
            f"first feature page (enter) [{figures['page screen']}]:", figures["first feature page"]
        )
    )
    print(key_line("next feature page (]):", figures["page steps"]))
    pairs = "" if figures["pairs ok"] else f" (no rows after {PAIRS_TIMEOUT_S:.0f} s)"
    print(f"  {'Pairs screen (p, until rows):':<42} {figures['pairs']:.2f} s{pairs}")
    print(key_line(f"re-list the pairs (s, {PAIR_SORTS} sorts):", figures["pairs re-sort"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=20_000_000)
    parser.add_argument("--tokens-per-doc", type=int, default=128)
    parser.add_argument("--n-latents", type=int, default=16384)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--presses", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=None, help="keep the workspace here")
    args = parser.parse_args()
    wanted = spec(args)
    with tempfile.TemporaryDirectory() as tmp:
        root = (args.dir or Path(tmp) / "ws").expanduser().resolve()
        built = prepare(root, wanted)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {load}")
        print(
            f"workspace: {wanted['n_pairs']:,} pairs × 2 docs × {args.tokens_per_doc} tokens = "
            f"{wanted['n_pairs'] * 2 * args.tokens_per_doc:,} tokens; {args.n_latents:,} "
            f"latents, k={args.k}; {disk_bytes(root) / 2**30:.2f} GiB on disk"
        )
        print(
            f"  rows encoded: {rows_of(root):,}; "
            + (f"built in {built:.1f} s" if built is not None else f"reused from {root}")
        )
        imported, first, last = cold_start(root)
        print(
            f"cold start (new process, page cache warm): imports done {ms(imported)}, first "
            f"frame of Features {ms(first)}, last frame before idle {ms(last)}"
        )
        sae_id = synthetic_sae_id(args.n_latents, args.k)
        engine_figures(root, sae_id, args.presses)
        evict(root)
        print_explorer("page cache evicted", asyncio.run(explorer_figures(root, args.presses)))
        print_explorer("warm", asyncio.run(explorer_figures(root, args.presses)))


if __name__ == "__main__":
    main()
