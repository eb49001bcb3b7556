"""The CLI reference page is what scripts/cli_reference.py writes from the commands."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import typer.main

from safer_engine.cli import app

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cli_reference.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def command_paths(group: object, prefix: str = "safer") -> list[str]:
    paths = []
    for name, command in getattr(group, "commands", {}).items():
        path = f"{prefix} {name}"
        paths += [path, *command_paths(command, path)]
    return paths


def test_the_committed_page_is_what_the_commands_say(script: ModuleType) -> None:
    committed = script.PAGE.read_text(encoding="utf-8")
    assert committed == script.reference(), "run python scripts/cli_reference.py"


def test_every_command_and_option_has_its_place(script: ModuleType) -> None:
    page = script.reference()
    commands = command_paths(typer.main.get_command(app))
    assert {"safer data info", "safer edit plan", "safer tui"} <= set(commands)
    for command in commands:
        assert f"\n## {command}\n" in page or f"\n### {command}\n" in page, command
    plan = page[page.index("\n### safer edit plan\n") : page.index("\n### safer edit list\n")]
    assert "| `--workspace <path>` | Workspace folder. | required |" in plan
    ratio = "| `--ratio <float>` | Percent of the train pairs to edit (not for manual). | `5.0` |"
    assert ratio in plan
    assert "```\nsafer edit plan [OPTIONS]\n```" in plan
    retrain = page[page.index("\n## safer retrain\n") : page.index("\n## safer experiment\n")]
    assert "| `plan <str>` | A plan id (with --workspace) or its path. |  |" in retrain


def test_help_text_reads_literally(script: ModuleType) -> None:
    """Markdown would take `sae/<id>` for a tag and `|salience|` for a table's cells."""
    assert script.escaped("into sae/<id>/scores, by |salience| (`a|b`)") == (
        r"into sae/&lt;id&gt;/scores, by \|salience\| (`a|b`)"
    )
    with pytest.raises(ValueError, match="ends the cell"):
        script.cell("one of `a|b`")
