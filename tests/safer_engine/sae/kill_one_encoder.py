"""`safer encode` in which process 1 of an `accelerate launch` dies (SIGKILL) right after
finishing its first part, as a crash or an out-of-memory kill would: for the resume test."""

from __future__ import annotations

import os
import signal

from safer_engine.cli import run
from safer_engine.codes.parts import CodesParts

mark_done = CodesParts.mark_done


def mark_then_die(self: CodesParts, part: int) -> None:
    mark_done(self, part)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    if os.environ.get("RANK") == "1":
        CodesParts.mark_done = mark_then_die  # type: ignore[method-assign]
    run()
