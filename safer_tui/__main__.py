"""`python -m safer_tui [--web [--port N]] WORKSPACE`: what `safer tui` runs, in a process of
its own; `--web` serves the same app in a browser through textual-serve on 127.0.0.1."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m safer_tui")
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--web", action="store_true", help="serve in a browser")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    root = args.workspace.expanduser().resolve()
    if args.web:
        from textual_serve.server import Server

        command = shlex.join([sys.executable, "-m", "safer_tui", str(root)])
        Server(command, host="127.0.0.1", port=args.port, title="SAFER explorer").serve()
        return 0
    from safer_tui.app import SaferApp

    SaferApp(root).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
