"""Write the CLI reference page from the `safer` commands themselves.

Walks the click command tree that typer makes of `safer_engine.cli.app` (its root group
imports every command module when asked for its commands) and writes each group and command
with its usage, help text, arguments and options into docs/reference/cli.md.
tests/scripts/test_cli_reference.py fails while the committed page differs from what this
writes. Run from the repository root after adding or changing a command:

    python scripts/cli_reference.py

The page depends on nothing but the commands: no terminal width, no help formatter.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer.main

from safer_engine.cli import app

PAGE = Path(__file__).resolve().parent.parent / "docs" / "reference" / "cli.md"
HEADER = """\
# CLI reference

<!-- Written by scripts/cli_reference.py from the commands themselves: run
`python scripts/cli_reference.py` after changing a command, never edit this page. -->

Every command and option of `safer`, as `safer … --help` prints them; every command also
takes `--help`. A command prints one clear message on bad input (what is wrong, what to do),
never a traceback; add `--debug` to see one. The pages before this one say what the commands
are for: [The loop step by step](../tutorial.md) runs them in order.
"""
CODE_SPAN = re.compile(r"(`[^`]*`)")
SPECIAL = re.compile(r"([\\*_\[\]|])")


def escaped(text: str) -> str:
    """Help text as markdown shows it literally: code spans kept, everything else escaped."""
    parts = CODE_SPAN.split(text)
    return "".join(
        part
        if part.startswith("`")
        else SPECIAL.sub(r"\\\1", part).replace("<", "&lt;").replace(">", "&gt;")
        for part in parts
    )


def paragraphs(text: str | None) -> list[str]:
    """A docstring's paragraphs, each on one line (the source's wrapping is not the text's)."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text or "") if block.strip()]


def cell(text: str) -> str:
    """One table cell: a single line with no bare `|`."""
    text = " ".join(text.split())
    if any("|" in span for span in CODE_SPAN.findall(text)):
        raise ValueError(f"A code span in a table cell holds '|', which ends the cell: {text}")
    return escaped(text)


def parameter_row(param: Any, ctx: Any) -> str | None:
    """A table row of an argument or option: its name and type, its help, what it defaults to.

    typer's help record is '<help>  [<extras>]'; the extras (default, required, range) get a
    column of their own."""
    record = param.get_help_record(ctx)
    if record is None:
        return None
    name, full = record
    help_text = param.help or ""
    extras = full[len(help_text) :].strip()
    notes = []
    for extra in extras.removeprefix("[").removesuffix("]").split("; ") if extras else []:
        notes.append(f"`{extra[len('default: ') :]}`" if extra.startswith("default: ") else extra)
    return f"| `{name}` | {cell(help_text)} | {'; '.join(notes)} |"


def anchor(path: str) -> str:
    """The heading's id, as the site's table of contents makes it."""
    return path.replace(" ", "-")


def section(command: Any, ctx: Any, level: int) -> list[str]:
    """A command's section, and for a group its commands' sections: one level below, but the
    root's at its own level (they are the page's main entries)."""
    path = ctx.command_path
    lines = [f"{'#' * level} {path}", ""]
    lines += [line for paragraph in paragraphs(command.help) for line in (escaped(paragraph), "")]
    lines += ["```", " ".join([path, *command.collect_usage_pieces(ctx)]), "```", ""]
    for kind, title in (("argument", "argument"), ("option", "option")):
        rows = [
            row
            for param in command.params
            if param.param_type_name == kind and (row := parameter_row(param, ctx)) is not None
        ]
        if rows:
            lines += [f"| {title} | what it does | default |", "|---|---|---|", *rows, ""]
    if hasattr(command, "list_commands"):
        subcommands = [
            (name, command.get_command(ctx, name)) for name in command.list_commands(ctx)
        ]
        lines += ["| command | what it does |", "|---|---|"]
        for name, sub in subcommands:
            first = paragraphs(sub.help)[0] if sub.help else ""
            lines.append(f"| [`{path} {name}`](#{anchor(f'{path} {name}')}) | {cell(first)} |")
        lines.append("")
        for name, sub in subcommands:
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            lines += section(sub, sub_ctx, level + 1 if ctx.parent else level)
    return lines


def reference() -> str:
    """The whole page."""
    root = typer.main.get_command(app)
    ctx = root.make_context("safer", [], resilient_parsing=True)
    return HEADER + "\n" + "\n".join(section(root, ctx, 2)).rstrip("\n") + "\n"


def main() -> int:
    text = reference()
    if PAGE.is_file() and PAGE.read_text(encoding="utf-8") == text:
        print(f"{PAGE} is current.")
    else:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(text, encoding="utf-8")
        print(f"Wrote {PAGE}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
