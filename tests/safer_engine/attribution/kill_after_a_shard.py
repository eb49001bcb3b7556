"""`safer attribute` in which process 1 of an `accelerate launch` dies (SIGKILL) right after
saving its first shard, as a crash or an out-of-memory kill would: for the resume test."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from safer_engine.attribution import texts
from safer_engine.cli import run

save_shard = texts.save_shard


def save_then_die(path: Path, **arrays: Any) -> None:
    save_shard(path, **arrays)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    if os.environ.get("RANK") == "1":
        texts.save_shard = save_then_die  # type: ignore[assignment]
    run()
