"""The README's promises: two commands first, and every CLI command documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from safer_engine.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_first_code_block_is_the_two_commands_ci_runs() -> None:
    block = re.search(r"```\n(.*?)```", README, re.S)
    assert block is not None
    commands = block.group(1).strip().splitlines()
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def command_paths(group: object, prefix: str = "safer") -> list[str]:
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}"
        paths += command_paths(command, path) if hasattr(command, "commands") else [path]
    return paths


def test_every_command_is_in_the_cli_reference() -> None:
    commands = command_paths(typer.main.get_command(app))
    assert "safer data info" in commands
    for command in commands:
        assert f"`{command}" in README, f"{command} is missing from the README"


def test_the_explorer_key_tables_are_the_bindings() -> None:
    """`python scripts/readme_keys.py` rewrites them when the bindings change."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_keys", ROOT / "scripts/readme_keys.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert README.count("<!-- keys: ") == len(script.TABLES)
    assert script.rewritten(README) == README, "run python scripts/readme_keys.py"
