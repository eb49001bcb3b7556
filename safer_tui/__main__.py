"""`python -m safer_tui [WORKSPACE]`: what `safer tui` runs, in a process of its own."""

from __future__ import annotations

import sys
from pathlib import Path

from safer_tui.app import SaferApp


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m safer_tui WORKSPACE\n")
        return 2
    SaferApp(Path(argv[0]).expanduser()).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
