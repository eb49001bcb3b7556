"""This process's share of a launch: under `accelerate launch` or torchrun several processes
split a stage's work (extraction's shards, encoding's parts), each writes its own files, and
the main process (rank 0) waits for all of them and assembles the artifact.

One process, the usual case, is a launch of one that does everything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from safer_engine.errors import Cancelled
from safer_engine.progress import CancelToken, Progress

WAIT_SECONDS = 0.2
"""How often the main process looks for the other processes' files."""


@dataclass(frozen=True)
class ProcessShare:
    """This process's part of a multi-process run (one process: all of it)."""

    index: int = 0
    count: int = 1
    device: str | None = None
    barrier: Callable[[], None] = lambda: None

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def mine(self, work: Sequence[int]) -> list[int]:
        """This process's items of `work`, dealt round-robin so every process gets as much."""
        return list(work[self.index :: self.count])


def is_main_process() -> bool:
    """Whether this is the main process (rank 0) of a launch, or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def current_share() -> ProcessShare:
    """The share of a process started by `accelerate launch` or torchrun (WORLD_SIZE > 1):
    one GPU each, or the CPU (gloo) on a machine without GPUs."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ProcessShare()
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    # "cpu:0" works for torch but not for safetensors, which sae-lens loads with
    device = "cpu" if state.device.type == "cpu" else str(state.device)
    return ProcessShare(state.process_index, state.num_processes, device, state.wait_for_everyone)


def wait_for_files(
    paths: Sequence[Path], progress: Progress, cancel: CancelToken, what: str, hint: str
) -> None:
    """Until the other processes have written every file (a process that dies takes the
    whole launch down with it, so this never waits for ever)."""
    while True:
        done = sum(p.exists() for p in paths)
        if done == len(paths):
            return
        progress("waiting for the other processes", done, len(paths))
        if cancel.cancelled:
            raise Cancelled(what, hint)
        time.sleep(WAIT_SECONDS)
