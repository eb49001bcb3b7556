"""The `safer` Typer application, its consoles and the options every group shares.

Command modules (one per group: data, rm, store, sae, judge, labels, explorer, …) add their
commands to `app` when imported. The root group imports a command's module only when that
command is looked up (`COMMANDS` says which module has it), so `safer --version` loads no
command module and `safer tui` loads only the explorer's; help and a misspelt command's
suggestion list them all, and so import them all.
"""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Annotated, cast

import typer
import typer.main
from rich.console import Console
from typer.core import TyperGroup

from safer_engine import __version__

if TYPE_CHECKING:  # typer ≥ 0.29 vendors click, and types its groups with these
    from typer._click import Command, Context

COMMANDS = {
    "train-rm": "rm",
    "eval": "rm",
    "extract": "store",
    "train-sae": "sae",
    "encode": "sae",
    "salience": "sae",
    "judge": "judge",
    "attribute": "attribute",
    "score-pairs": "scores",
    "retrain": "runs",
    "experiment": "runs",
    "runs": "runs",
    "report": "report",
    "demo": "explorer",
    "tui": "explorer",
    "data": "data",
    "store": "store",
    "edit": "edits",
    "benchmark": "benchmark",
    "labels": "labels",
    "export": "export",
}
"""Every command and command group of `safer`, in the order `safer --help` lists them (the
pipeline's: its commands, then its groups), with the module of `safer_engine.cli` that
defines it."""


class LazyGroup(TyperGroup):
    """The root command: it builds a command from its module when the command is looked up.

    Typer makes the click command of every command registered so far; a command that is not
    among them has its module imported and the root's commands made again."""

    _built: MutableMapping[str, Command]

    @property
    def commands(self) -> MutableMapping[str, Command]:
        """All of them: every command module is imported first."""
        if any(name not in self._built for name in COMMANDS):
            for module in dict.fromkeys(COMMANDS.values()):
                importlib.import_module(f"safer_engine.cli.{module}")
            self._built = _built()
        return self._built

    @commands.setter
    def commands(self, built: MutableMapping[str, Command]) -> None:
        self._built = built

    def list_commands(self, ctx: Context) -> list[str]:
        """Every command, made at once: whoever lists them (help) looks each one up next."""
        self.commands  # noqa: B018
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in COMMANDS and cmd_name not in self._built:
            importlib.import_module(f"safer_engine.cli.{COMMANDS[cmd_name]}")
            self._built = _built()
        return self._built.get(cmd_name)


def _built() -> MutableMapping[str, Command]:
    """The click commands of every command registered on `app` so far."""
    return cast(LazyGroup, typer.main.get_command(app))._built


app = typer.Typer(
    name="safer",
    help="SAFER explorer: see inside a reward model and fix its safety training data.",
    cls=LazyGroup,
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
