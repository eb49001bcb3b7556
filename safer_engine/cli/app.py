"""The `safer` Typer application, its consoles and the options every group shares.

Command modules (one per group: data, rm, store, sae, judge, labels, explorer) add their commands
to `app` when imported; `safer_engine.cli` imports them all and runs the app.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from safer_engine import __version__

app = typer.Typer(
    name="safer",
    help="SAFER explorer: see inside a reward model and fix its safety training data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)
debug = {"on": False}


def group(name: str, help: str) -> typer.Typer:
    """A sub-command group such as `safer data …`."""
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def _version(value: bool) -> None:
    if value:
        out.print(f"safer-explorer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug_flag: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of errors (anywhere on the line).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    debug["on"] = debug["on"] or debug_flag
