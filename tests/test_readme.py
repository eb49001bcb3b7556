"""The README's promises: two commands first, short, its demo table the tutorial's, and links
that lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEMO_TABLE = re.compile(r"<!-- demo table -->\n(.*?)\n<!-- /demo table -->", re.S)


def test_first_code_block_is_the_two_commands_ci_runs() -> None:
    block = re.search(r"```\n(.*?)```", README, re.S)
    assert block is not None
    commands = block.group(1).strip().splitlines()
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_stays_short() -> None:
    """Everything else lives in the documentation site under docs/."""
    lines = len(README.splitlines())
    assert lines <= 150, f"README.md has {lines} lines; move what is past 150 into docs/"


def test_the_demo_table_is_the_tutorials() -> None:
    """The one fact the README repeats: the table the demo ends with."""
    tutorial = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    ours, theirs = DEMO_TABLE.search(README), DEMO_TABLE.search(tutorial)
    assert ours is not None and theirs is not None
    assert ours.group(1) == theirs.group(1), "copy the demo table from docs/tutorial.md"
    runs = [row.split("|")[1].strip() for row in ours.group(1).splitlines()[2:]]
    assert runs == ["clean", "SAFER poisoning", "random flipping"]


def test_every_relative_link_leads_to_a_file() -> None:
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert "docs/tutorial.md" in targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README links to missing files: {missing}"
