"""The root command imports each command's module only when the command is looked up; its
table of commands must name every command of every module, in the order help lists them."""

from __future__ import annotations

import re
import subprocess
import sys

import typer.main

from safer_engine.cli.app import COMMANDS, app
from tests.safer_engine.cli import run_cli


def test_the_table_names_each_command_with_the_module_that_defines_it() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    defined_in = {}
    for name, command in commands.items():
        # a group's module is its commands' module
        leaf = next(iter(command.commands.values())) if hasattr(command, "commands") else command
        defined_in[name] = leaf.callback.__module__.removeprefix("safer_engine.cli.")
    assert defined_in == COMMANDS


def test_help_lists_every_command_with_its_help_in_the_table_s_order() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    listed = re.findall(r"^│ ([a-z][a-z-]*) ", result.stdout, re.M)
    assert listed == list(COMMANDS)
    assert "Rank SAE features by how differently they fire" in result.stdout
    assert "Export, import and clear feature tags." in result.stdout


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import sys\n"
        "from safer_engine.cli import main\n"
        "main(['labels', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('safer_engine.cli.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = result.stdout.strip().splitlines()[-1]
    assert loaded == str([f"safer_engine.cli.{m}" for m in ("app", "labels", "options")])
