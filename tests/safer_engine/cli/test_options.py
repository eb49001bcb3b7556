"""Options derived from config dataclasses: every field is one option, typed, documented and
validated by the config itself."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
import typer
from typer.testing import CliRunner

from safer_engine.cli import app
from safer_engine.cli.options import config_options
from safer_engine.config import (
    Config,
    ExtractConfig,
    JudgeConfig,
    RMConfig,
    SAEConfig,
    flag,
)
from safer_engine.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class ToyConfig(Config):
    """A config with one field of every kind the command line supports."""

    name: str
    """Given by the command as a positional argument."""

    size: int = 3
    """How many.

    Only this first paragraph is the option's help."""

    ratio: float | None = None
    """A fraction, or nothing."""

    mode: Literal["fast", "slow"] = "fast"
    """How to go."""

    loud: bool = False
    """Say it louder."""

    ratios: tuple[float, ...] = (1.0, 2.5)
    """Several numbers, comma-separated."""

    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    """Not on the command line."""

    def validate(self) -> None:
        if self.mode not in ("fast", "slow"):
            raise ConfigError(f"--mode must be fast or slow, not {self.mode!r}.")


def toy_app(seen: list[ToyConfig]) -> typer.Typer:
    toy = typer.Typer()

    @toy.command()
    @config_options(ToyConfig, exclude=("name", "tags"))
    def run(config: ToyConfig, name: str) -> None:
        seen.append(config)

    @toy.command()
    def other() -> None:  # a second command keeps `run` a named sub-command
        pass

    return toy


def test_each_field_is_an_option_with_its_type_default_and_help() -> None:
    seen: list[ToyConfig] = []
    runner = CliRunner()
    result = runner.invoke(toy_app(seen), ["run", "x", "--size", "5", "--ratio", "0.5", "--loud"])
    assert result.exit_code == 0, result.output
    assert seen == [ToyConfig(name="x", size=5, ratio=0.5, loud=True)]
    result = runner.invoke(toy_app(seen), ["run", "y"])
    assert seen[-1] == ToyConfig(name="y")
    result = runner.invoke(toy_app(seen), ["run", "z", "--ratios", "2, 5,10"])
    assert seen[-1].ratios == (2.0, 5.0, 10.0)
    result = runner.invoke(toy_app(seen), ["run", "z", "--ratios", "2,x"])
    assert isinstance(result.exception, ConfigError)
    assert "not a comma-separated list of float" in str(result.exception)
    help_text = runner.invoke(toy_app(seen), ["run", "--help"], terminal_width=200).output
    assert "How many." in help_text and "Only this first paragraph" not in help_text
    assert "One of: fast, slow." in help_text and "--no-loud" in help_text
    assert "1,2.5" in help_text
    assert "--tags" not in help_text and "--name" not in help_text


def test_the_config_validates_not_the_command_line() -> None:
    seen: list[ToyConfig] = []
    result = CliRunner().invoke(toy_app(seen), ["run", "x", "--mode", "sideways"])
    assert isinstance(result.exception, ConfigError)
    assert "--mode must be fast or slow" in str(result.exception)
    assert seen == []


@pytest.mark.parametrize(
    ("command", "config"),
    [
        (["train-rm"], RMConfig),
        (["extract"], ExtractConfig),
        (["train-sae"], SAEConfig),
        (["judge"], JudgeConfig),
    ],
)
def test_every_field_of_a_stage_config_has_its_option(
    command: list[str], config: type[Config]
) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for field in dataclasses.fields(config):
        assert flag(field.name) in result.output, field.name
