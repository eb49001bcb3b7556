"""The `safer` command: one module per command group, plus `demo` and `tui`, each imported
when its command runs (`cli/app.py`).

User-facing failures print one message and a hint, never a traceback; `--debug` adds it.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

import click

try:  # typer ≥ 0.29 vendors click: its usage errors are not click's classes
    from typer._click.exceptions import ClickException as TyperClickException
    from typer._click.exceptions import NoArgsIsHelpError
except ImportError:  # older typer raises click's own
    from click.exceptions import ClickException as TyperClickException  # type: ignore[assignment]
    from click.exceptions import NoArgsIsHelpError  # type: ignore[assignment]
import typer
from rich.markup import escape

from safer_engine.cli.app import app, debug, err
from safer_engine.errors import SaferError

USAGE_ERRORS = (click.ClickException, TyperClickException)
INTERRUPTED = 130
"""The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""
__all__ = ["app", "main", "parse_columns", "run"]


def __getattr__(name: str) -> Callable[[str | None], dict[str, str]]:
    """`parse_columns`, from the data group's module, imported when asked for."""
    if name == "parse_columns":
        from safer_engine.cli.data import parse_columns

        return parse_columns
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn failures into one clear message."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:  # accepted anywhere, not only before the command
        args.remove("--debug")
        debug["on"] = True
    try:
        # Outside standalone mode click returns a command's `typer.Exit(code)` instead of
        # raising it.
        code = app(args=args, prog_name="safer", standalone_mode=False)
    except SaferError as exc:
        _report(exc, f"[bold red]Error:[/] {escape(exc.message)}", exc.hint)
        return 2
    except NoArgsIsHelpError:
        return 0  # the help was shown
    except (click.exceptions.Exit, typer.Exit) as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort, KeyboardInterrupt):
        _interrupted()
        return INTERRUPTED
    except USAGE_ERRORS as exc:
        exc.show()
        return int(exc.exit_code)
    except Exception as exc:  # a bug, not bad input: still one message unless --debug
        _report(
            exc,
            f"[bold red]Internal error:[/] {type(exc).__name__}: {escape(str(exc))}",
            "Rerun with --debug for the traceback, and please report it.",
        )
        return 1
    if code == INTERRUPTED:  # typer turns Ctrl-C into this status, returned, not raised
        _interrupted()
    return code if isinstance(code, int) else 0


def _interrupted() -> None:
    from safer_engine.launch import is_main_process

    if not is_main_process():  # Ctrl-C reaches every process of a launch: one says so
        return
    err.print("Interrupted.", highlight=False)
    err.print(
        "Finished work is kept: extraction, encoding, reward-model training, judging and the "
        "experiment go on where they stopped when run again.",
        style="dim",
        highlight=False,
    )


def _report(exc: BaseException, message: str, hint: str) -> None:
    if debug["on"]:
        err.print("".join(traceback.format_exception(exc)), markup=False, highlight=False)
    err.print(message, highlight=False)
    if hint:
        err.print(hint, style="dim", highlight=False, markup=False)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
