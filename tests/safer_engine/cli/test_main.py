from __future__ import annotations

import pytest

from tests.safer_engine.cli import run_cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "info", "missing.jsonl"], "no such file or folder"),
        (["data", "info", "tests"], "is a folder but not a data set"),
        (["data", "info", "pyproject.toml"], "unsupported file type .toml"),
        (
            ["data", "info", "tests/fixtures/data/generic.csv", "--preference", "x"],
            "preference must be one of",
        ),
    ],
)
def test_bad_input_gives_one_message_and_no_traceback(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_debug_shows_the_traceback() -> None:
    result = run_cli("--debug", "data", "info", "missing.jsonl")
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert "no such file or folder" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "info", "x.csv", "--jsn"], "No such option: --jsn"),
        (["trian-rm"], "No such command 'trian-rm'. Did you mean 'train-rm'?"),
        (["train-rm"], "Missing option '--workspace'"),
        (["train-rm", "--workspace", "w", "--max-steps", "x"], "Invalid value for '--max-steps'"),
    ],
)
def test_usage_errors_are_usage_errors(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Internal error" not in result.stderr
    assert "Traceback" not in result.stderr


def test_bare_safer_shows_help_and_succeeds() -> None:
    result = run_cli()
    assert result.returncode == 0
    assert "train-rm" in result.stdout
    assert "Internal error" not in result.stdout + result.stderr


def test_debug_is_accepted_after_the_command() -> None:
    result = run_cli("data", "info", "missing.jsonl", "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr


@pytest.mark.parametrize(
    ("command", "default"),
    [("tui", "the demo workspace"), ("train-sae", "8 × activation"), ("eval", "all with")],
)
def test_help_shows_the_documented_defaults(command: str, default: str) -> None:
    # rich would read "[default: …]" as markup and drop it
    result = run_cli(command, "--help")
    assert result.returncode == 0
    assert default in " ".join(result.stdout.split())
