"""Command-line options derived from config dataclasses, so a new config field is one edit.

`@config_options(RMConfig)` gives a command one `--field-name` option per field of the
config, typed from the field's annotation, defaulting to the field's default, with the
field's docstring as help. The command receives the validated config as `config`; the config
itself validates (its `ConfigError` names the flag), never the CLI.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer

from safer_engine.config import Config, field_docs, flag
from safer_engine.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])

WorkspaceOption = Annotated[Path, typer.Option(help="Workspace folder.")]


def config_options(
    cls: type[Config],
    exclude: Sequence[str] = (),
    help: dict[str, str] | None = None,
    name: str = "config",
) -> Callable[[F], F]:
    """Decorate a command `def cmd(config: cls, ...)` to take the config's fields as options.

    `name` is the parameter the config is passed as, so a command can take two configs
    (two decorators, two names).

    `exclude` names fields that get no option of their own: a command parameter of the same
    name (a positional argument, say) fills them, and the others keep their defaults. `help`
    replaces a field's docstring where a shorter line reads better on the command line.
    """
    fields = [f for f in dataclasses.fields(cls) if f.name not in exclude]
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    options = [
        _option(f, hints[f.name], (help or {}).get(f.name) or _first_sentences(docs.get(f.name)))
        for f in fields
    ]
    parsers = {f.name: _parser(hints[f.name]) for f in fields}

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        own = other_parameters(command, {name})

        shared = [name for name in exclude if name in signature.parameters]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            values = {f.name: parsers[f.name](kwargs.pop(f.name)) for f in fields}
            values |= {name: kwargs[name] for name in shared}
            return command(**{name: cls(**values)}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + options)  # type: ignore[attr-defined]
        return typing.cast(F, wrapper)

    return decorate


def other_parameters(command: Callable[..., Any], filled: set[str]) -> list[inspect.Parameter]:
    """The command's parameters but those a decorator fills, with resolved annotations:
    typer reads Annotated options from the signature itself."""
    resolved = typing.get_type_hints(command, include_extras=True)
    return [
        p.replace(annotation=resolved.get(p.name, p.annotation))
        for p in inspect.signature(command).parameters.values()
        if p.name not in filled
    ]


def _option(field: dataclasses.Field[Any], hint: Any, help_text: str) -> inspect.Parameter:
    kind, choices = _cli_type(hint)
    if choices:
        help_text = f"{help_text} One of: {', '.join(choices)}."
    factory: Callable[[], Any] | None = (
        None if field.default_factory is dataclasses.MISSING else field.default_factory
    )
    default = factory() if factory is not None else field.default
    if isinstance(default, tuple):
        default = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
    names = (
        [flag(field.name)]
        if kind is not bool
        else [f"{flag(field.name)}/--no-{field.name.replace('_', '-')}"]
    )
    return inspect.Parameter(
        field.name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*names, help=help_text)],
    )


def _cli_type(hint: Any) -> tuple[Any, list[str]]:
    """The type typer parses a field as, and the allowed words of a Literal field."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = typing.get_origin(hint) in (typing.Union, _union_type()) and len(args) == 1
    inner = args[0] if optional else hint
    if typing.get_origin(inner) is Literal:
        return (str | None if optional else str), [str(a) for a in typing.get_args(inner)]
    if inner in (int, float, str, bool):
        return (inner | None if optional else inner), []
    if typing.get_origin(inner) is tuple:  # typed as a comma-separated list
        return (str | None if optional else str), []
    raise TypeError(f"a config field of type {hint} has no command-line form")


def _parser(hint: Any) -> Callable[[Any], Any]:
    """What turns an option's value into the field's: `1,2.5,5` into a tuple, else as is."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    inner = args[0] if len(args) == 1 and typing.get_origin(hint) is not tuple else hint
    if typing.get_origin(inner) is not tuple:
        return lambda value: value
    item = typing.get_args(inner)[0]

    def parse(value: Any) -> Any:
        if value is None or isinstance(value, tuple):
            return value
        try:
            return tuple(item(part.strip()) for part in str(value).split(",") if part.strip())
        except ValueError:
            raise ConfigError(
                f"{value!r} is not a comma-separated list of {item.__name__} values.",
                "Example: 1,2.5,5",
            ) from None

    return parse


def _union_type() -> Any:
    import types

    return types.UnionType


def _first_sentences(doc: str | None) -> str:
    """A docstring's first paragraph on one line: what fits a `--help` listing."""
    return " ".join((doc or "").split("\n\n")[0].split())
