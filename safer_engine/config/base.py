"""The base of every stage config: validation on construction, JSON round trip, field docs.

Each stage's config is written next to the artifact it produced, so any artifact can be
traced back to exactly how it was made. A field's docstring is its documentation everywhere:
the command line derives each option's help from it (`field_docs`).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import textwrap
from pathlib import Path
from typing import Any, TypeVar

from safer_engine.errors import ConfigError
from safer_engine.files import write_text_atomic

C = TypeVar("C", bound="Config")


def flag(name: str) -> str:
    """A setting's name as users type it on the command line."""
    return f"--{name.replace('_', '-')}"


@dataclasses.dataclass(frozen=True)
class Config:
    """Base of all stage configs: validation hook and JSON round trip."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `ConfigError` for any out-of-range value. Subclasses extend this."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no setting(s) {', '.join(unknown)}.",
                f"Known settings: {', '.join(sorted(known))}.",
            )
        return cls(**data)

    @classmethod
    def load(cls: type[C], path: Path) -> C:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"Cannot read config {path}: {exc}", "Delete it to start that stage afresh."
            ) from exc
        return cls.from_dict(data)


def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string literal right below it in the class body).

    Read from the source with `ast`, since Python keeps no attribute docstrings at runtime.
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass) and issubclass(klass, Config):
            docs |= _own_field_docs(klass)
    return docs


_OWN_FIELD_DOCS: dict[type, dict[str, str]] = {}
"""`_own_field_docs` of each class read so far: finding a class's source parses its whole
module, and the CLI asks again for every option of every command that takes the config."""


def _own_field_docs(klass: type) -> dict[str, str]:
    """The docstrings of the fields `klass` itself declares."""
    if klass in _OWN_FIELD_DOCS:
        return _OWN_FIELD_DOCS[klass]
    body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, after in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    _OWN_FIELD_DOCS[klass] = docs
    return docs
