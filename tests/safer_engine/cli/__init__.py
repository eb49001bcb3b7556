"""Helpers of the command-line tests."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safer_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
