"""Run `safer` under `accelerate launch` with two CPU processes, for the multi-process tests."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path


def launch(*args: str, script: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`accelerate launch --multi_gpu --num_processes 2 -m safer_engine.cli ARGS` (or
    `script`): two processes through torchrun, on the CPU here (accelerate's `--cpu` starts
    one process unless given an MPI host file)."""
    launcher = Path(sys.executable).parent / "accelerate"
    port = str(free_port())  # tests running side by side (pytest -n) must not share one
    target = [str(script)] if script else ["-m", "safer_engine.cli"]
    command = [
        str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", port,
        *target, *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def free_port() -> int:
    """A TCP port nothing listens on now, for the launch's rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
