"""Start-up from the shell: `safer --version`, `safer --help`, and `safer tui WORKSPACE` to
its first frame at 80×24.

    .venv/bin/python benchmarks/startup.py [--repeats 10] [--workspace DIR]

Each command is a new process started the way a shell starts it: the `safer` script beside
this interpreter, so whatever `PYTHONPATH` says is the code measured. `safer --version` and
`safer --help` are timed to their exit, with their output read from a pipe.

`safer tui` runs on a pseudo-terminal of 80 columns and 24 rows, and is timed from its start
to the moment its output holds the Features screen: its table's header line and, after it,
the footer's `Quit` (Textual writes each frame whole, so both mean the frame with the table
has been written). It goes through everything a user waits for: the CLI, its `exec` of
`python -m safer_tui`, the explorer's imports, opening the workspace, the first paint. Then
`q` quits it. Without `--workspace`, a small synthetic workspace is built in a temporary
folder (`build_synthetic_workspace`: 2,000 pairs of 64 tokens, 4,096 latents).

One run of each command comes first and is not counted (it fills the page cache, as any
earlier use would have). Prints the median, the fastest and the slowest of the repeats;
asserts nothing. The goals (issue 21): `safer --version` < 0.3 s, first frame < 1 s.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

SAFER = str(Path(sys.executable).parent / "safer")
COLUMNS, ROWS = 80, 24
TIMEOUT_S = 30.0
ESCAPES = re.compile(rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()=>].?")
"""Terminal control sequences (OSC, CSI, and the short ones), removed to read the text."""
FEATURE_TABLE = re.compile(rb"feature +salience.*Quit", re.S)


def exit_time(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([SAFER, *args], check=True, capture_output=True, timeout=TIMEOUT_S)
    return time.perf_counter() - start


def first_frame_time(workspace: Path) -> float:
    """Seconds from starting `safer tui WORKSPACE` on a pseudo-terminal to the first frame
    that shows the feature table."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(ROWS))
    start = time.perf_counter()
    process = subprocess.Popen(
        [SAFER, "tui", str(workspace)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    shown = b""
    try:
        while not FEATURE_TABLE.search(ESCAPES.sub(b"", shown)):
            if time.perf_counter() - start > TIMEOUT_S or process.poll() is not None:
                text = ESCAPES.sub(b"", shown).decode(errors="replace")
                raise RuntimeError(f"no feature table on screen; the screen showed:\n{text}")
            if select.select([master], [], [], 0.5)[0]:
                shown += os.read(master, 1 << 16)
        seconds = time.perf_counter() - start
        os.write(master, b"q")
        _drain_until_exit(master, process)
        return seconds
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


def _drain_until_exit(master: int, process: subprocess.Popen[bytes]) -> None:
    """Keep reading the terminal while the explorer quits: a full one would block it."""
    deadline = time.perf_counter() + TIMEOUT_S
    while process.poll() is None and time.perf_counter() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                os.read(master, 1 << 16)
            except OSError:  # the other side closed as the process ended
                break
    process.wait(timeout=TIMEOUT_S)


def build_workspace(folder: Path) -> Path:
    from safer_engine.testing.synthetic_workspace import build_synthetic_workspace

    return build_synthetic_workspace(
        folder / "ws", n_pairs=2000, tokens_per_doc=64, n_latents=4096, k=32
    )


def report(name: str, measure: Callable[[], float], repeats: int) -> None:
    measure()  # not counted: fills the page cache
    times = [measure() for _ in range(repeats)]
    median = statistics.median(times)
    print(
        f"{name:<28} median {median:6.3f} s   min {min(times):6.3f}   max {max(times):6.3f}"
        f"   ({repeats} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--workspace", type=Path, help="default: a small synthetic one")
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load}")
    print(f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}  {SAFER}")
    with tempfile.TemporaryDirectory() as scratch:
        workspace = args.workspace or build_workspace(Path(scratch))
        report("safer --version", lambda: exit_time(["--version"]), args.repeats)
        report("safer --help", lambda: exit_time(["--help"]), args.repeats)
        report("safer tui: first frame", lambda: first_frame_time(workspace), args.repeats)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load after: {load}")


if __name__ == "__main__":
    main()
