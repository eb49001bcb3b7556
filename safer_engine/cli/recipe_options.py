"""`--recipe` and the training settings of both recipes, as overrides.

A retrain trains the way the analysed reward model was trained unless told otherwise, so
every setting option defaults to unset: the command receives the recipe names and only the
settings the user gave (`make_recipes` refuses a setting that none of the recipes has).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from safer_engine.cli.options import _cli_type, _first_sentences, _parser, other_parameters
from safer_engine.config import RecipeConfig, RMConfig, field_docs, flag
from safer_engine.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
RECIPE_WORDS = ("fast", "full")


def recipe_options(several: bool = False) -> Callable[[F], F]:
    """Give a command `--recipe` and an option per training setting of either recipe; it
    receives `recipes` (names) and `overrides` (the settings given)."""
    options, parsers = _setting_options()
    words = "fast, full, or both as fast,full" if several else "fast or full"
    recipe = inspect.Parameter(
        "recipe",
        inspect.Parameter.KEYWORD_ONLY,
        default="fast",
        annotation=Annotated[
            str,
            typer.Option(
                help=f"How runs train: {words}. fast fits a head on the frozen pretrained "
                "backbone (seconds, a proxy); full trains the whole model as `safer train-rm` "
                "did (the real retrain). Unset settings below come from the analysed model."
            ),
        ],
    )

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        own = other_parameters(command, {"recipes", "overrides"})

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            names = parse_recipes(kwargs.pop("recipe"), several)
            given = {name: parsers[name](kwargs.pop(name)) for name in parsers}
            overrides = {k: v for k, v in given.items() if v is not None}
            return command(recipes=names, overrides=overrides, **kwargs)

        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*own, recipe, *options]
        )
        return typing.cast(F, wrapper)

    return decorate


def parse_recipes(text: str, several: bool) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    bad = [name for name in names if name not in RECIPE_WORDS]
    if bad or not names or (len(names) > 1 and not several):
        allowed = "fast, full or fast,full" if several else "fast or full"
        raise ConfigError(f"--recipe must be {allowed}, not {text!r}.")
    return tuple(sorted(names))  # fast first: its runs take seconds


def _setting_options() -> tuple[list[inspect.Parameter], dict[str, Callable[[Any], Any]]]:
    """One optional parameter per setting of either recipe (seed apart: commands take it)."""
    options: list[inspect.Parameter] = []
    parsers: dict[str, Callable[[Any], Any]] = {}
    classes = {"full": RMConfig, "fast": RecipeConfig}
    seen: dict[str, list[str]] = {}
    for recipe, cls in classes.items():
        for f in dataclasses.fields(cls):
            if f.name != "seed":
                seen.setdefault(f.name, []).append(recipe)
    for name, recipes in seen.items():
        cls = classes[recipes[0]]
        hint = typing.get_type_hints(cls)[name]
        if name == "epochs":
            hint = float  # the fast recipe's whole epochs are floats too
        kind, choices = _cli_type(hint)
        doc = _first_sentences(field_docs(cls).get(name))
        if choices:
            doc = f"{doc} One of: {', '.join(choices)}."
        options.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    kind | None, typer.Option(flag(name), help=f"{_which(recipes)}: {doc}")
                ],
            )
        )
        parsers[name] = _parser(hint)
    return options, parsers


def _which(recipes: list[str]) -> str:
    """Which recipes a setting belongs to, as its help says it (brackets would be markup)."""
    return "both recipes" if len(recipes) > 1 else f"{recipes[0]} recipe"
