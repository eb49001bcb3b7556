"""`safer demo` and `safer tui`: the whole loop on the embedded data, and the explorer."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from safer_engine.cli.app import app, err, out
from safer_engine.workspace import Workspace, default_workspace


@app.command()
def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Workspace folder (default: the user data folder's safer-explorer/demo)."
        ),
    ] = None,
    no_tui: Annotated[
        bool, typer.Option("--no-tui", help="Stop after building, before the explorer opens.")
    ] = False,
) -> None:
    """Run the SAFER loop on the embedded demo data (reuses what earlier runs built)."""
    # Here, not at the top: `safer tui` shares this module and needs none of them.
    from safer_engine.cli.progress import rich_progress
    from safer_engine.cli.render import show_data, show_eval
    from safer_engine.cli.runs import show_comparison
    from safer_engine.cli.sae import show_top_features
    from safer_engine.demo import run_demo

    root = workspace or default_workspace()
    with rich_progress(err, "Demo") as progress:
        result = run_demo(root, progress)
    show_data(out, result.data.data)
    for stage, reused in result.stages.items():
        state = "reused" if reused else "done"
        out.print(f"[green]{stage}: {state}[/]")
    show_eval(out, result.evaluation)
    show_top_features(result.workspace, result.sae_id, top=5, examples=2)
    show_comparison(out, result.comparison, result.workspace.root)
    out.print(f"Workspace: {result.workspace.root}")
    if not no_tui:
        open_explorer(result.workspace.root)


@app.command()
def tui(
    workspace: Annotated[
        Path | None,
        typer.Argument(help="Workspace folder (default: the demo workspace)."),
    ] = None,
    web: Annotated[
        bool, typer.Option("--web", help="Serve it in a browser on 127.0.0.1 (textual-serve).")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --web.")] = 8000,
) -> None:
    """Open the explorer: rank features, tag safety features (keys: F1 or ?)."""
    root = (workspace or default_workspace()).expanduser()
    Workspace.open(root)  # a missing workspace is reported here, before the screen opens
    if web:
        out.print(f"Serving the explorer at http://127.0.0.1:{port} (Ctrl+C stops)")
        sys.stdout.flush()
        os.execv(
            sys.executable,
            [sys.executable, "-m", "safer_tui", "--web", "--port", str(port), str(root)],
        )
    open_explorer(root)


def open_explorer(root: Path) -> None:
    """Replace this process with the explorer: the engine never imports the UI, and the
    explorer starts in a fresh process without the GPU stack this one may have loaded."""
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        out.print(f"Not a terminal: open the explorer later with `safer tui {root}`.")
        return
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "safer_tui", str(root)])
